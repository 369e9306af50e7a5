import type { Kysely } from 'kysely';
import { generateSecretToken, hashSecretToken } from '../crypto/tokens.js';
import { operationsOf } from '../storage/operations/storage-operations.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database } from '../storage/schema.js';

export type MagicLinkRejection = 'unknown' | 'other_workspace' | 'expired' | 'used' | 'superseded' | 'client_disabled' | 'email_changed';

/** What a link is for: an everyday sign-in, or the invitation `portico client invite` sends (its own page and wording). */
export type MagicLinkPurpose = 'sign_in' | 'invitation';

function purposeOf(stored: string | null | undefined): MagicLinkPurpose {
  return stored === 'invitation' ? 'invitation' : 'sign_in';
}

export interface IssuedMagicLink {
  /** The raw token, for the email only. Only its hash is stored. */
  token: string;
  expiresAt: number;
}

/**
 * Stores a new sign-in link for a client, with the hash of the one-time code mailed beside it
 * (`codeHash`, sign-in-code.ts) when there is one: the code lives and dies with the link.
 */
export async function issueMagicLinkToken(
  db: Kysely<Database>,
  now: number,
  input: { workspaceId: string; clientId: string; ttlMs: number; nextPath: string | null; browserBindingHash: string | null; codeHash?: string | null; purpose?: MagicLinkPurpose },
): Promise<IssuedMagicLink> {
  const token = generateSecretToken();
  const expiresAt = now + input.ttlMs;
  await insertMagicLink(db, hashSecretToken(token), input.workspaceId, input.clientId, input.browserBindingHash, input.nextPath, now, expiresAt, input.codeHash ?? null, input.purpose ?? 'sign_in');
  return { token, expiresAt };
}

const insertMagicLink = prepareQuery(
  (db, tokenHash: string, workspaceId: string, clientId: string, browserBindingHash: string | null, nextPath: string | null, now: number, expiresAt: number, codeHash: string | null, purpose: MagicLinkPurpose) =>
    db.insertInto('magic_links').values({
      token_hash: tokenHash,
      workspace_id: workspaceId,
      client_id: clientId,
      browser_binding_hash: browserBindingHash,
      next_path: nextPath,
      created_at: now,
      expires_at: expiresAt,
      ended_at: null,
      end_reason: null,
      code_hash: codeHash,
      purpose,
    }),
  // The outbox worker stores the links of the mails it prepares at once: where statements cost round
  // trips, one insert.
  { batchable: true },
);

/** The link in its own workspace's address; never from request headers (host poisoning, CVE-2012-4520). */
export function buildMagicLinkUrl(workspaceUrl: string, token: string): string {
  return `${workspaceUrl}/magic-login/verify?token=${token}`;
}

export type MagicLinkInspection =
  | { ok: true; clientEmail: string; clientName: string; browserBindingHash: string | null; expiresAt: number; purpose: MagicLinkPurpose }
  | { ok: false; reason: MagicLinkRejection; purpose: MagicLinkPurpose };

/** Looks at a link without using it: for the page a scanner or a person opens with GET. */
export async function inspectMagicLinkToken(db: Kysely<Database>, now: number, workspaceId: string, token: string): Promise<MagicLinkInspection> {
  const row = await db
    .selectFrom('magic_links')
    .innerJoin('clients', 'clients.id', 'magic_links.client_id')
    .select([
      'magic_links.workspace_id',
      'magic_links.expires_at',
      'magic_links.ended_at',
      'magic_links.end_reason',
      'magic_links.browser_binding_hash',
      'magic_links.purpose',
      'clients.email',
      'clients.name',
      'clients.disabled_at',
    ])
    .where('magic_links.token_hash', '=', hashSecretToken(token))
    .executeTakeFirst();
  if (!row) return { ok: false, reason: 'unknown', purpose: 'sign_in' };
  // Another workspace's link: say nothing about it here, not even that it is an invitation.
  if (row.workspace_id !== workspaceId) return { ok: false, reason: 'other_workspace', purpose: 'sign_in' };
  const purpose = purposeOf(row.purpose);
  const reason = rejectionOf(row, now);
  if (reason || row.disabled_at !== null) return { ok: false, reason: reason ?? 'client_disabled', purpose };
  return { ok: true, clientEmail: row.email, clientName: row.name, browserBindingHash: row.browser_binding_hash, expiresAt: row.expires_at, purpose };
}

export type MagicLinkConsumption =
  | { ok: true; clientId: string; clientEmail: string; clientGeneration: number; clientLastLocale: string | null; nextPath: string | null; purpose: MagicLinkPurpose }
  | { ok: false; reason: MagicLinkRejection; clientEmail: string | null; purpose: MagicLinkPurpose };

/**
 * Uses a link, atomically: one conditional step ends this link and every other live link of the
 * same client, and only if this link is live. Of any number of concurrent redemptions, exactly one
 * wins (the statement is storage/operations/one-at-a-time.ts's, batched by turn where the dialect
 * does so).
 */
export async function consumeMagicLinkToken(db: Kysely<Database>, now: number, workspaceId: string, token: string): Promise<MagicLinkConsumption> {
  return consumeMagicLinkByHash(db, now, workspaceId, hashSecretToken(token));
}

/** consumeMagicLinkToken for a link known by its token's hash: the link whose code was typed (sign-in codes). */
export async function consumeMagicLinkByHash(db: Kysely<Database>, now: number, workspaceId: string, tokenHash: string): Promise<MagicLinkConsumption> {
  const used = await operationsOf(db).consumeMagicLink({ now, tokenHash, workspaceId });
  if (used) return { ok: true, ...used, purpose: purposeOf(used.purpose) };
  return explainUnusableLink(db, now, workspaceId, tokenHash);
}

/** Why the link with this token hash could not be used (it was not): for the page and the audit log. */
async function explainUnusableLink(
  db: Kysely<Database>,
  now: number,
  workspaceId: string,
  tokenHash: string,
): Promise<Extract<MagicLinkConsumption, { ok: false }>> {
  const row = await db
    .selectFrom('magic_links')
    .innerJoin('clients', 'clients.id', 'magic_links.client_id')
    .select(['magic_links.workspace_id', 'magic_links.expires_at', 'magic_links.ended_at', 'magic_links.end_reason', 'magic_links.purpose', 'clients.email'])
    .where('magic_links.token_hash', '=', tokenHash)
    .executeTakeFirst();
  if (!row) return { ok: false, reason: 'unknown', clientEmail: null, purpose: 'sign_in' };
  // Another workspace's link: say nothing about its client here.
  if (row.workspace_id !== workspaceId) return { ok: false, reason: 'other_workspace', clientEmail: null, purpose: 'sign_in' };
  return { ok: false, reason: rejectionOf(row, now) ?? 'client_disabled', clientEmail: row.email, purpose: purposeOf(row.purpose) };
}

function rejectionOf(row: { expires_at: number; ended_at: number | null; end_reason: string | null }, now: number): MagicLinkRejection | null {
  if (row.ended_at !== null) {
    if (row.end_reason === 'used' || row.end_reason === 'superseded' || row.end_reason === 'client_disabled' || row.end_reason === 'email_changed') return row.end_reason;
    return 'used';
  }
  if (row.expires_at <= now) return 'expired';
  return null;
}
