import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../errors.js';
import { recordAuditEvents } from '../events/audit-events.js';
import type { Clock } from '../shared/clock.js';
import type { ClientTable, Database } from '../storage/schema.js';
import { isUniqueViolation } from '../storage/database-errors.js';
import { endEverythingOfClient } from '../sessions/end-everything-of-client.js';
import type { SessionStore } from '../sessions/sessions.js';
import { operationsOf } from '../storage/operations/storage-operations.js';
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

/** Reads a client name: trimmed, at most 200 characters, possibly empty. */
export function readClientName(name: string | undefined): { ok: true; name: string } | { ok: false; reason: string } {
  const trimmed = (name ?? '').trim();
  if (trimmed.length > maxClientNameLength) return { ok: false, reason: `the name is longer than ${maxClientNameLength} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(trimmed)) return { ok: false, reason: 'the name holds control characters' };
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
  };
  try {
    await db.insertInto('clients').values(client).execute();
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

/**
 * Disables a client: they can no longer sign in, and every session and outstanding sign-in and
 * reset link ends now, in one transaction so no link can be redeemed in between.
 */
export async function disableClient(store: SessionStore, clock: Clock, workspace: Workspace, emailInput: string): Promise<Client> {
  const email = parseEmailAddress(emailInput);
  if (!email.ok) throw new AppError('CLIENT_EMAIL_INVALID', { message: `"${emailInput}" is not a valid email address: ${email.reason}` });
  const now = clock.now();
  const disabled = await store.db.transaction().execute(async (trx) => {
    const client = await findClientByNormalizedEmail(trx, workspace.id, email.normalized);
    if (!client) throw new AppError('CLIENT_NOT_FOUND', { message: `${email.email} is not a client of the workspace "${workspace.slug}".` });
    const disabledAt = client.disabled_at ?? now;
    await trx.updateTable('clients').set({ disabled_at: disabledAt }).where('id', '=', client.id).execute();
    const endedSessions = await endEverythingOfClient({ db: trx, sessionCache: store.sessionCache }, client.id, { now, linkEndReason: 'client_disabled', sessionEndReason: 'client_disabled' });
    if (client.disabled_at === null) {
      await recordAuditEvents(trx, [
        { workspaceId: workspace.id, at: now, type: 'client.disabled', email: client.email, detail: { sessionsEnded: endedSessions } },
      ]);
    }
    return { ...client, disabled_at: disabledAt };
  });
  return disabled;
}
