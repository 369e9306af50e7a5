import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../errors.js';
import type { Clock } from '../shared/clock.js';
import { parseDuration } from '../shared/duration.js';
import type { Database, WorkspaceTable } from '../storage/schema.js';
import { isUniqueViolation } from '../storage/unique-violation.js';
import { isValidSlug, slugFromName } from './slug.js';
import { parseWorkspaceOrigin } from './workspace-url.js';

export type Workspace = Selectable<WorkspaceTable>;

export const defaultMagicLinkTtlMs = 15 * 60_000;
const minMagicLinkTtlMs = 60_000;
const maxMagicLinkTtlMs = 60 * 60_000;

export interface WorkspaceInput {
  name?: string;
  url?: string;
  slug?: string;
  magicLinkTtl?: string;
}

/** The public face of a workspace, as the CLI prints it. */
export function describeWorkspace(workspace: Workspace) {
  return { slug: workspace.slug, name: workspace.name, url: workspace.url };
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

/** Changes a workspace's name, URL or link lifetime. */
export async function updateWorkspace(db: Kysely<Database>, slug: string, input: WorkspaceInput): Promise<Workspace> {
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
  await assertNoConflict(db, updated);
  await db
    .updateTable('workspaces')
    .set({ name: updated.name, url: updated.url, host: updated.host, magic_link_ttl_ms: updated.magic_link_ttl_ms })
    .where('id', '=', current.id)
    .execute();
  return updated;
}

/** Every workspace, by slug. */
export async function listWorkspaces(db: Kysely<Database>): Promise<Workspace[]> {
  return db.selectFrom('workspaces').selectAll().orderBy('slug').execute();
}

export async function findWorkspaceBySlug(db: Kysely<Database>, slug: string): Promise<Workspace | null> {
  return (await db.selectFrom('workspaces').selectAll().where('slug', '=', slug).executeTakeFirst()) ?? null;
}

/** The workspace that owns a normalised `Host` value, or null. */
export async function findWorkspaceByHost(db: Kysely<Database>, host: string): Promise<Workspace | null> {
  return (await db.selectFrom('workspaces').selectAll().where('host', '=', host).executeTakeFirst()) ?? null;
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

function readName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 100) throw new AppError('WORKSPACE_NAME_INVALID');
  return trimmed;
}

function readOrigin(url: string) {
  const origin = parseWorkspaceOrigin(url);
  if (!origin.ok) {
    throw new AppError('WORKSPACE_URL_INVALID', { message: `The workspace URL is not valid: ${origin.reason}. Write an origin like https://portal.example.com.` });
  }
  return origin;
}

function readMagicLinkTtl(text: string): number {
  const parsed = parseDuration(text);
  if (!parsed.ok || parsed.milliseconds < minMagicLinkTtlMs || parsed.milliseconds > maxMagicLinkTtlMs) {
    throw new AppError('MAGIC_LINK_TTL_INVALID', { message: `"${text}" is not a magic-link lifetime: use a duration from 1m to 60m, such as 15m, 90s or 1h.` });
  }
  return parsed.milliseconds;
}
