import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../errors.js';
import type { Clock } from '../shared/clock.js';
import { formatDuration, parseDuration } from '../shared/duration.js';
import { readOneLineName } from '../shared/one-line-name.js';
import type { Database, DefaultDoor, WorkspaceTable } from '../storage/schema.js';
import { isUniqueViolation } from '../storage/database-errors.js';
import { prepareQuery } from '../storage/prepared-query.js';
import { parseEmailAddress } from '../clients/email.js';
import { shippedLocales } from '../i18n/locales.js';
import { matchShippedLocale } from '../i18n/negotiate-locale.js';
import { inTransaction } from '../storage/in-transaction.js';
import { readAccentColor } from './brand-palette.js';
import { formatMailbox, readMailbox } from './sender-address.js';
import { isValidSlug, slugFromName } from './slug.js';
import { logoPath, readLogoImage, saveWorkspaceLogo, type LogoImage } from './workspace-logo.js';
import { parseWorkspaceOrigin } from './workspace-url.js';

export type Workspace = Selectable<WorkspaceTable>;

export const defaultMagicLinkTtlMs = 15 * 60_000;
const minMagicLinkTtlMs = 60_000;
const maxMagicLinkTtlMs = 60 * 60_000;

/** The limits a workspace may set for itself, by CLI option name; `default` goes back to the environment's. */
export const workspaceLimitOptions = {
  limitEmailCooldown: { column: 'limit_email_cooldown_ms', kind: 'duration', flag: '--limit-email-cooldown' },
  limitEmailPerHour: { column: 'limit_emails_per_hour', kind: 'count', flag: '--limit-email-per-hour' },
  limitIpPerMinute: { column: 'limit_ip_per_minute', kind: 'count', flag: '--limit-ip-per-minute' },
  limitIpRedemptionsPer5Minutes: { column: 'limit_redemptions_per_5_minutes', kind: 'count', flag: '--limit-ip-redemptions-per-5-minutes' },
  limitWorkspaceEmailsPerHour: { column: 'limit_workspace_emails_per_hour', kind: 'count', flag: '--limit-workspace-emails-per-hour' },
} as const;

export type WorkspaceLimitOption = keyof typeof workspaceLimitOptions;

export interface WorkspaceInput {
  name?: string;
  url?: string;
  slug?: string;
  magicLinkTtl?: string;
  limits?: Partial<Record<WorkspaceLimitOption, string>>;
  /** `email` or `password`: where `/` sends a signed-out visitor. */
  defaultDoor?: string;
  /** The branding flags (issue 18); `none` clears each. */
  locale?: string;
  accentColor?: string;
  mailFrom?: string;
  replyTo?: string;
  supportEmail?: string;
  /** A logo file's bytes and the name it was given as, checked by content; null removes the logo. */
  logo?: { bytes: Uint8Array; fileName: string } | null;
}

/** The word that clears a branding setting (`--logo none`); `default` reads as well, as it does for the limits. */
export function isClearWord(text: string): boolean {
  return text.trim() === 'none' || text.trim() === 'default';
}

const defaultDoors: readonly DefaultDoor[] = ['email', 'password'];

/** The public face of a workspace, as the CLI prints it: the contract's slug, name and url, then its settings. */
export function describeWorkspace(workspace: Workspace) {
  const limits: Record<string, string | number> = {};
  for (const [option, { column, kind }] of Object.entries(workspaceLimitOptions)) {
    const value = workspace[column];
    if (value !== null) limits[option] = kind === 'duration' ? formatDuration(value) : value;
  }
  return {
    slug: workspace.slug,
    name: workspace.name,
    url: workspace.url,
    magicLinkTtl: formatDuration(workspace.magic_link_ttl_ms),
    defaultDoor: workspace.default_door,
    limits,
    locale: workspace.locale,
    accentColor: workspace.accent_color,
    mailFrom: workspace.mail_from,
    replyTo: workspace.reply_to,
    supportEmail: workspace.support_email,
    logoUrl: workspace.logo_hash ? `${workspace.url}${logoPath(workspace.logo_hash)}` : null,
  };
}

/** Creates a workspace; the slug defaults to one made from the name. */
export async function createWorkspace(
  db: Kysely<Database>,
  clock: Clock,
  input: WorkspaceInput & { name: string; url: string },
): Promise<Workspace> {
  const name = readName(input.name);
  const origin = readOrigin(input.url);
  const slug = input.slug === undefined ? slugFromName(name) : input.slug;
  if (!isValidSlug(slug)) throw new AppError('WORKSPACE_SLUG_INVALID', { message: `"${slug}" is not a valid slug: use 1 to 63 lower-case letters, digits and dashes` });
  const workspace: Workspace = {
    id: randomUUID(),
    slug,
    name,
    url: origin.url,
    host: origin.host,
    magic_link_ttl_ms: input.magicLinkTtl === undefined ? defaultMagicLinkTtlMs : readMagicLinkTtl(input.magicLinkTtl),
    mail_from: null,
    created_at: clock.now(),
    limit_email_cooldown_ms: null,
    limit_emails_per_hour: null,
    limit_ip_per_minute: null,
    limit_redemptions_per_5_minutes: null,
    limit_workspace_emails_per_hour: null,
    default_door: input.defaultDoor === undefined ? 'email' : readDefaultDoor(input.defaultDoor),
    locale: 'en',
    accent_color: null,
    reply_to: null,
    support_email: null,
    logo_hash: null,
  };
  await assertNoConflict(db, workspace);
  try {
    await db.insertInto('workspaces').values(workspace).execute();
  } catch (error) {
    // Two creations racing past the check above: the unique keys decide.
    if (isUniqueViolation(error)) await assertNoConflict(db, workspace);
    throw error;
  }
  return workspace;
}

/** Changes a workspace's name, URL, link lifetime, limits or branding; every value is checked before anything is written. */
export async function updateWorkspace(db: Kysely<Database>, slug: string, input: WorkspaceInput, now: number = Date.now()): Promise<Workspace> {
  const current = await findWorkspaceBySlug(db, slug);
  if (!current) throw new AppError('WORKSPACE_NOT_FOUND', { message: `No workspace has the slug "${slug}".` });
  const updated: Workspace = { ...current };
  if (input.name !== undefined) updated.name = readName(input.name);
  if (input.url !== undefined) {
    const origin = readOrigin(input.url);
    updated.url = origin.url;
    updated.host = origin.host;
  }
  if (input.magicLinkTtl !== undefined) updated.magic_link_ttl_ms = readMagicLinkTtl(input.magicLinkTtl);
  if (input.defaultDoor !== undefined) updated.default_door = readDefaultDoor(input.defaultDoor);
  for (const [option, text] of Object.entries(input.limits ?? {}) as [WorkspaceLimitOption, string | undefined][]) {
    if (text === undefined) continue;
    const { column, kind, flag } = workspaceLimitOptions[option];
    updated[column] = readLimit(flag, kind, text);
  }
  if (input.locale !== undefined) updated.locale = readLocale(input.locale);
  if (input.accentColor !== undefined) updated.accent_color = isClearWord(input.accentColor) ? null : readAccent(input.accentColor);
  if (input.mailFrom !== undefined) updated.mail_from = isClearWord(input.mailFrom) ? null : readSender(input.mailFrom);
  if (input.replyTo !== undefined) updated.reply_to = isClearWord(input.replyTo) ? null : readAddress('--reply-to', input.replyTo);
  if (input.supportEmail !== undefined) updated.support_email = isClearWord(input.supportEmail) ? null : readAddress('--support-email', input.supportEmail);
  let logo: LogoImage | null = null;
  if (input.logo !== undefined) {
    logo = input.logo === null ? null : await readLogo(input.logo);
    updated.logo_hash = logo?.hash ?? null;
  }
  await assertNoConflict(db, updated);
  await inTransaction(db, async (trx) => {
    if (logo) await saveWorkspaceLogo(trx, now, current.id, logo);
    await updateWorkspaceRow(trx, current.id, updated);
  });
  return updated;
}

async function updateWorkspaceRow(db: Kysely<Database>, id: string, updated: Workspace): Promise<void> {
  await db
    .updateTable('workspaces')
    .set({
      name: updated.name,
      url: updated.url,
      host: updated.host,
      magic_link_ttl_ms: updated.magic_link_ttl_ms,
      limit_email_cooldown_ms: updated.limit_email_cooldown_ms,
      limit_emails_per_hour: updated.limit_emails_per_hour,
      limit_ip_per_minute: updated.limit_ip_per_minute,
      limit_redemptions_per_5_minutes: updated.limit_redemptions_per_5_minutes,
      limit_workspace_emails_per_hour: updated.limit_workspace_emails_per_hour,
      default_door: updated.default_door,
      locale: updated.locale,
      accent_color: updated.accent_color,
      mail_from: updated.mail_from,
      reply_to: updated.reply_to,
      support_email: updated.support_email,
      logo_hash: updated.logo_hash,
    })
    .where('id', '=', id)
    .execute();
}

/** Every workspace, by slug. */
export async function listWorkspaces(db: Kysely<Database>): Promise<Workspace[]> {
  return db.selectFrom('workspaces').selectAll().orderBy('slug').execute();
}

export async function findWorkspaceBySlug(db: Kysely<Database>, slug: string): Promise<Workspace | null> {
  return (await db.selectFrom('workspaces').selectAll().where('slug', '=', slug).executeTakeFirst()) ?? null;
}

const selectWorkspaceByHost = prepareQuery((db, host: string) => db.selectFrom('workspaces').selectAll().where('host', '=', host));

/** The workspace that owns a normalised `Host` value, or null. Runs on every request. */
export async function findWorkspaceByHost(db: Kysely<Database>, host: string): Promise<Workspace | null> {
  return (await selectWorkspaceByHost(db, host))[0] ?? null;
}

const selectWorkspaceById = prepareQuery((db, id: string) => db.selectFrom('workspaces').selectAll().where('id', '=', id));

/** The workspace with this id, or null. Runs for every mail the worker prepares. */
export async function findWorkspaceById(db: Kysely<Database>, id: string): Promise<Workspace | null> {
  return (await selectWorkspaceById(db, id))[0] ?? null;
}

/** Like findWorkspaceBySlug, but a missing workspace is an error naming the slug. */
export async function requireWorkspaceBySlug(db: Kysely<Database>, slug: string): Promise<Workspace> {
  const workspace = await findWorkspaceBySlug(db, slug);
  if (!workspace) throw new AppError('WORKSPACE_NOT_FOUND', { message: `No workspace has the slug "${slug}".` });
  return workspace;
}

async function assertNoConflict(db: Kysely<Database>, workspace: Workspace): Promise<void> {
  const clashes = await db
    .selectFrom('workspaces')
    .select(['slug', 'host'])
    .where('id', '!=', workspace.id)
    .where((eb) => eb.or([eb('slug', '=', workspace.slug), eb('host', '=', workspace.host)]))
    .execute();
  for (const clash of clashes) {
    if (clash.slug === workspace.slug) throw new AppError('WORKSPACE_SLUG_TAKEN', { message: `A workspace with the slug "${workspace.slug}" already exists.` });
    throw new AppError('WORKSPACE_URL_TAKEN', { message: `The workspace "${clash.slug}" is already served at ${workspace.url}.` });
  }
}

/** The name goes into email subjects and one-line CLI output. */
function readName(name: string): string {
  const read = readOneLineName(name);
  if (!read.ok) throw new AppError('WORKSPACE_NAME_INVALID', { message: `The workspace name ${read.problem}.` });
  return read.name;
}

function readOrigin(url: string) {
  const origin = parseWorkspaceOrigin(url);
  if (!origin.ok) {
    throw new AppError('WORKSPACE_URL_INVALID', { message: `The workspace URL is not valid: ${origin.reason}. Write an origin like https://portal.example.com.` });
  }
  return origin;
}

function readLimit(flag: string, kind: 'duration' | 'count', text: string): number | null {
  if (text.trim() === 'default') return null;
  if (kind === 'duration') {
    const parsed = parseDuration(text);
    if (!parsed.ok || parsed.milliseconds > 24 * 3_600_000) {
      throw new AppError('LIMIT_INVALID', { message: `${flag} "${text}" is not a duration from 0 to 24h (or "default")` });
    }
    return parsed.milliseconds;
  }
  if (!/^\d{1,9}$/.test(text.trim()) || Number(text) < 1) {
    throw new AppError('LIMIT_INVALID', { message: `${flag} "${text}" is not a whole number of at least 1 (or "default")` });
  }
  return Number(text);
}

function readDefaultDoor(text: string): DefaultDoor {
  const door = defaultDoors.find((known) => known === text.trim());
  if (!door) throw new AppError('DEFAULT_DOOR_INVALID', { message: `--default-door "${text}" is not a door: use email (the sign-in link page) or password` });
  return door;
}

/** The page `/` sends a signed-out visitor to, carrying `next` when there is one. */
export function defaultDoorPath(workspace: Pick<Workspace, 'default_door'>, next: string | null = null): string {
  const door = workspace.default_door === 'password' ? '/login' : '/magic-login';
  return next ? `${door}?next=${encodeURIComponent(next)}` : door;
}

function readLocale(text: string): string {
  if (isClearWord(text)) return 'en';
  // Tags are case-insensitive and a region narrows a language Portico ships whole (`de-DE`, `pt-br`).
  const locale = matchShippedLocale(text);
  if (!locale) throw new AppError('LOCALE_INVALID', { message: `--locale "${text}" is not a shipped language: use one of ${shippedLocales.join(', ')}` });
  return locale;
}

function readAccent(text: string): string {
  const read = readAccentColor(text);
  if (!read.ok) throw new AppError('ACCENT_COLOR_INVALID', { message: read.reason });
  return read.color;
}

function readSender(text: string): string {
  const read = readMailbox(text, '--mail-from');
  if (!read.ok) throw new AppError('MAIL_FROM_INVALID', { message: read.reason });
  return formatMailbox(read.mailbox);
}

function readAddress(flag: string, text: string): string {
  const address = parseEmailAddress(text);
  if (!address.ok) throw new AppError('WORKSPACE_ADDRESS_INVALID', { message: `${flag} "${text}" is not an email address like name@example.com (or none, to clear it)` });
  return address.email;
}

async function readLogo(file: { bytes: Uint8Array; fileName: string }): Promise<LogoImage> {
  const read = await readLogoImage(file.bytes, file.fileName);
  if (!read.ok) throw new AppError('LOGO_INVALID', { message: read.reason });
  return read.logo;
}

function readMagicLinkTtl(text: string): number {
  const parsed = parseDuration(text);
  if (!parsed.ok || parsed.milliseconds < minMagicLinkTtlMs || parsed.milliseconds > maxMagicLinkTtlMs) {
    throw new AppError('MAGIC_LINK_TTL_INVALID', { message: `"${text}" is not a magic-link lifetime: use a duration from 1m to 60m, such as 15m, 90s or 1h.` });
  }
  return parsed.milliseconds;
}
