import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { AppError } from '../errors.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { queueWebhookEvent, queueWebhookEvents } from '../webhooks/webhook-events.js';
import type { Clock } from '../shared/clock.js';
import { nameCharacterProblem } from '../shared/one-line-name.js';
import type { ClientTable, Database } from '../storage/schema.js';
import { isUniqueViolation } from '../storage/database-errors.js';
import { endEverythingOfClient, endOutstandingLinksOfClient } from '../sessions/end-everything-of-client.js';
import type { SessionStore } from '../sessions/sessions.js';
import { operationsOf } from '../storage/operations/storage-operations.js';
import { inTransaction } from '../storage/in-transaction.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { parseEmailAddress } from './email.js';

export type Client = Selectable<ClientTable>;

export const maxClientNameLength = 200;

/** The public face of a client, as the CLI prints it. */
export function describeClient(client: Client) {
  return {
    id: client.id,
    email: client.email,
    name: client.name,
    hasPassword: client.password_hash !== null,
    disabled: client.disabled_at !== null,
  };
}

/** Reads a client name: trimmed, at most 200 characters, possibly empty, none of them refused (`refusedNameCharacter`). */
export function readClientName(name: string | undefined): { ok: true; name: string } | { ok: false; reason: string } {
  const trimmed = (name ?? '').trim();
  if (trimmed.length > maxClientNameLength) return { ok: false, reason: `the name is longer than ${maxClientNameLength} characters` };
  const problem = nameCharacterProblem(trimmed);
  if (problem !== null) return { ok: false, reason: `the name ${problem}` };
  return { ok: true, name: trimmed };
}

/** Adds a client to a workspace; the email must not be taken there already. */
export async function addClient(
  db: Kysely<Database>,
  clock: Clock,
  workspace: Workspace,
  input: { email: string; name?: string; passwordHash?: string | null },
): Promise<Client> {
  const email = parseEmailAddress(input.email);
  if (!email.ok) throw new AppError('CLIENT_EMAIL_INVALID', { message: `"${input.email}" is not a valid email address: ${email.reason}` });
  const name = readClientName(input.name);
  if (!name.ok) throw new AppError('CLIENT_NAME_INVALID', { message: `The client name is not valid: ${name.reason}.` });
  const client: Client = {
    id: randomUUID(),
    workspace_id: workspace.id,
    email: email.email,
    email_normalized: email.normalized,
    name: name.name,
    password_hash: input.passwordHash ?? null,
    disabled_at: null,
    created_at: clock.now(),
    session_generation: 0,
    last_locale: null,
  };
  try {
    // The client and its client.added webhook, both or neither.
    await inTransaction(db, async (trx) => {
      await trx.insertInto('clients').values(client).execute();
      await queueWebhookEvent(trx, { workspace, type: 'client.added', at: client.created_at, client: { id: client.id, email: client.email }, data: { name: client.name } });
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError('CLIENT_EXISTS', { message: `${email.email} is already a client of the workspace "${workspace.slug}".` });
    }
    throw error;
  }
  return client;
}

/** Every client of a workspace, by email. */
export async function listClients(db: Kysely<Database>, workspace: Workspace): Promise<Client[]> {
  return db.selectFrom('clients').selectAll().where('workspace_id', '=', workspace.id).orderBy('email_normalized').execute();
}

/** The client of a workspace with this (already normalised) email, or null. */
export async function findClientByNormalizedEmail(db: Kysely<Database>, workspaceId: string, normalizedEmail: string): Promise<Client | null> {
  return operationsOf(db).findClientByNormalizedEmail(workspaceId, normalizedEmail);
}

// Compiled once: an app's token exchange and userinfo read the client on every request.
const selectClientById = prepareQuery((db, workspaceId: string, clientId: string) => db.selectFrom('clients').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', clientId));

export async function findClientById(db: Kysely<Database>, workspaceId: string, clientId: string): Promise<Client | null> {
  const [client] = await selectClientById(db, workspaceId, clientId);
  return client ?? null;
}

/** Names a client of a workspace: by email (the CLI) or by id (the admin API). A bare string is an email. */
export type ClientSelector = string | { email: string } | { id: string };

/** The client of the workspace the selector names; CLIENT_NOT_FOUND (or CLIENT_EMAIL_INVALID) otherwise. */
export async function requireClient(db: Kysely<Database>, workspace: Workspace, selector: ClientSelector): Promise<Client> {
  if (typeof selector === 'object' && 'id' in selector) {
    const client = await findClientById(db, workspace.id, selector.id);
    if (!client) throw new AppError('CLIENT_NOT_FOUND', { message: `No client with the id "${selector.id}" in the workspace "${workspace.slug}".` });
    return client;
  }
  const typed = typeof selector === 'string' ? selector : selector.email;
  const email = parseEmailAddress(typed);
  if (!email.ok) throw new AppError('CLIENT_EMAIL_INVALID', { message: `"${typed}" is not a valid email address: ${email.reason}` });
  const client = await findClientByNormalizedEmail(db, workspace.id, email.normalized);
  if (!client) throw new AppError('CLIENT_NOT_FOUND', { message: `${email.email} is not a client of the workspace "${workspace.slug}".` });
  return client;
}

/**
 * Disables a client: they can no longer sign in, and every session and outstanding sign-in and
 * reset link ends now, in one transaction so no link can be redeemed in between.
 */
export async function disableClient(store: SessionStore, clock: Clock, workspace: Workspace, selector: ClientSelector): Promise<Client> {
  const now = clock.now();
  return inTransaction(store.db, async (trx) => {
    const client = await requireClient(trx, workspace, selector);
    const disabledAt = client.disabled_at ?? now;
    await trx.updateTable('clients').set({ disabled_at: disabledAt }).where('id', '=', client.id).execute();
    const endedSessions = await endEverythingOfClient({ db: trx, sessionCache: store.sessionCache }, client.id, { now, linkEndReason: 'client_disabled', sessionEndReason: 'client_disabled' });
    if (client.disabled_at === null) {
      await recordAuditEvents(trx, [
        { workspaceId: workspace.id, at: now, type: 'client.disabled', email: client.email, detail: { sessionsEnded: endedSessions } },
      ]);
      const about = { id: client.id, email: client.email };
      await queueWebhookEvents(trx, [
        { workspace, type: 'client.disabled', at: now, client: about, data: { sessionsEnded: endedSessions } },
        ...(endedSessions > 0 ? [{ workspace, type: 'session.ended' as const, at: now, client: about, data: { reason: 'client_disabled', sessions: endedSessions } }] : []),
      ]);
    }
    return { ...client, disabled_at: disabledAt };
  });
}

/** Lets a disabled client sign in again; enabling an enabled client changes nothing. Nothing ended by disabling comes back. */
export async function enableClient(db: Kysely<Database>, clock: Clock, workspace: Workspace, selector: ClientSelector): Promise<Client> {
  const now = clock.now();
  return inTransaction(db, async (trx) => {
    const client = await requireClient(trx, workspace, selector);
    if (client.disabled_at === null) return client;
    await trx.updateTable('clients').set({ disabled_at: null }).where('id', '=', client.id).execute();
    await recordAuditEvents(trx, [{ workspaceId: workspace.id, at: now, type: 'client.enabled', email: client.email }]);
    return { ...client, disabled_at: null };
  });
}

/**
 * Changes a client's name or email. A new email must not be another client's; the client's
 * outstanding sign-in and reset links end with it, since they were mailed to the old address.
 */
export async function updateClient(store: SessionStore, clock: Clock, workspace: Workspace, selector: ClientSelector, changes: { email?: string; name?: string }): Promise<Client> {
  const now = clock.now();
  const email = changes.email === undefined ? null : parseEmailAddress(changes.email);
  if (email && !email.ok) throw new AppError('CLIENT_EMAIL_INVALID', { message: `"${changes.email}" is not a valid email address: ${email.reason}` });
  const name = changes.name === undefined ? null : readClientName(changes.name);
  if (name && !name.ok) throw new AppError('CLIENT_NAME_INVALID', { message: `The client name is not valid: ${name.reason}.` });
  try {
    return await inTransaction(store.db, async (trx) => {
      const client = await requireClient(trx, workspace, selector);
      const updated: Client = {
        ...client,
        ...(email?.ok ? { email: email.email, email_normalized: email.normalized } : {}),
        ...(name?.ok ? { name: name.name } : {}),
      };
      if (updated.email === client.email && updated.name === client.name) return client;
      await trx.updateTable('clients').set({ email: updated.email, email_normalized: updated.email_normalized, name: updated.name }).where('id', '=', client.id).execute();
      const emailChanged = updated.email_normalized !== client.email_normalized;
      if (emailChanged) await endOutstandingLinksOfClient(trx, client.id, { now, linkEndReason: 'email_changed' });
      await recordAuditEvents(trx, [
        { workspaceId: workspace.id, at: now, type: 'client.updated', email: updated.email, detail: { ...(emailChanged ? { previousEmail: client.email } : {}), nameChanged: updated.name !== client.name } },
      ]);
      return updated;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new AppError('CLIENT_EXISTS', { message: `${email?.ok ? email.email : 'This email'} is already a client of the workspace "${workspace.slug}".` });
    throw error;
  }
}

/** A page of a workspace's clients by email; `query` matches part of the email or name, in any case. */
export async function listClientPage(
  db: Kysely<Database>,
  workspace: Workspace,
  options: { query?: string; afterEmail?: string | null; limit: number },
): Promise<{ clients: Client[]; nextAfterEmail: string | null }> {
  let select = db.selectFrom('clients').selectAll().where('workspace_id', '=', workspace.id);
  const query = options.query?.trim().toLowerCase();
  if (query) {
    // LIKE's own wildcards in what was typed match themselves; lower() on both sides, since
    // PostgreSQL's LIKE heeds case and SQLite's does not.
    const pattern = `%${query.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
    select = select.where((eb) => eb.or([eb('email_normalized', 'like', sql<string>`${pattern} escape '\\'`), eb(eb.fn('lower', ['name']), 'like', sql<string>`${pattern} escape '\\'`)]));
  }
  if (options.afterEmail) select = select.where('email_normalized', '>', options.afterEmail);
  const rows = await select.orderBy('email_normalized').limit(options.limit + 1).execute();
  const clients = rows.slice(0, options.limit);
  return { clients, nextAfterEmail: rows.length > options.limit ? clients[clients.length - 1]!.email_normalized : null };
}
