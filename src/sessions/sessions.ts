import { sql, type Kysely } from 'kysely';
import { generateSecretToken, hashSecretToken } from '../crypto/tokens.js';
import type { Clock } from '../shared/clock.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database } from '../storage/schema.js';
import { SessionCache } from './session-cache.js';
import { noteEndedSessions, type SessionEnding } from './session-endings.js';

/** How a session began, as the account page shows it: a link, an emailed code, a password or an invitation. */
export type SignInMethod = 'magic_link' | 'code' | 'password' | 'invitation';

export interface SessionLifetimes {
  idleTimeoutMs: number;
  maxAgeMs: number;
}

export interface StartedSession {
  /** The secret for the cookie. Only its hash is stored. */
  token: string;
  idHash: string;
  expiresAt: number;
}

export interface ValidSession {
  idHash: string;
  workspaceId: string;
  clientId: string;
  clientEmail: string;
  clientName: string;
  /** The client's session generation this session was started under; what an app's grant inherits. */
  clientGeneration: number;
  /** When the client signed in to start this session: an app's `auth_time`. */
  signedInAt: number;
  expiresAt: number;
}

const selectSessionWithClient = prepareQuery((db, idHash: string, workspaceId: string) =>
  db
    .selectFrom('sessions')
    .innerJoin('clients', 'clients.id', 'sessions.client_id')
    .select([
      'sessions.client_id',
      'sessions.created_at',
      'sessions.last_seen_at',
      'sessions.expires_at',
      'sessions.client_generation',
      'clients.session_generation',
      'clients.email',
      'clients.name',
      'clients.disabled_at',
    ])
    .where('sessions.id_hash', '=', idHash)
    .where('sessions.workspace_id', '=', workspaceId),
);

const insertSession = prepareQuery(
  (db, idHash: string, workspaceId: string, clientId: string, clientGeneration: number, method: SignInMethod, userAgent: string, ip: string, now: number, expiresAt: number) =>
    db.insertInto('sessions').values({
      id_hash: idHash,
      workspace_id: workspaceId,
      client_id: clientId,
      client_generation: clientGeneration,
      sign_in_method: method,
      user_agent: userAgent,
      ip,
      created_at: now,
      last_seen_at: now,
      expires_at: expiresAt,
    }),
  { batchable: true },
);

type SessionRow = Awaited<ReturnType<typeof selectSessionWithClient>>[number];

/**
 * Where sessions live: the database (or a transaction of it), and this process's cache of that
 * database (session-cache.ts), which whatever ends sessions must tell. `PorticoContext` is one.
 */
export interface SessionStore {
  readonly db: Kysely<Database>;
  readonly sessionCache: SessionCache;
}

/** The session row with its client, from this process's cache when the database says it is current (session-cache.ts). */
async function readSession(store: SessionStore, idHash: string, workspaceId: string): Promise<SessionRow | null> {
  const cache = store.db.isTransaction || !store.sessionCache.enabled ? null : (store.sessionCache as SessionCache<SessionRow>);
  const cached = cache?.get(idHash, workspaceId);
  if (cached) return cached;
  const ticket = cache?.ticket();
  const [row] = await selectSessionWithClient(store.db, idHash, workspaceId);
  if (row && cache && ticket) cache.remember(idHash, workspaceId, row.client_id, row, ticket);
  return row ?? null;
}

/** Writes `last_seen_at` at most this often, so reading pages does not turn into a write per request. */
const lastSeenResolutionMs = 60_000;

/** A fresh session id, not yet stored: an id is never carried over from before sign-in (session fixation). */
function newSession(now: number, lifetimes: SessionLifetimes): StartedSession {
  const token = generateSecretToken();
  return { token, idHash: hashSecretToken(token), expiresAt: now + lifetimes.maxAgeMs };
}

/** The user agent as stored with a session: long enough to tell devices apart, bounded. */
function storedUserAgent(userAgent: string): string {
  return userAgent.slice(0, 400);
}

/**
 * Starts a session with a fresh id. `clientGeneration` is the client's `session_generation` as the
 * sign-in saw it when it checked the client: should every session of the client be ended between
 * that check and this insert, the session is born over (validateSessionToken).
 */
export async function startSession(
  db: Kysely<Database>,
  clock: Clock,
  lifetimes: SessionLifetimes,
  input: { workspaceId: string; clientId: string; clientGeneration: number; method: SignInMethod; userAgent: string; ip: string },
): Promise<StartedSession> {
  const now = clock.now();
  const session = newSession(now, lifetimes);
  await insertSession(db, session.idHash, input.workspaceId, input.clientId, input.clientGeneration, input.method, storedUserAgent(input.userAgent), input.ip, now, session.expiresAt);
  return session;
}

/**
 * The live session a cookie names in this workspace, or null: unknown, another workspace's,
 * idle too long, past its absolute lifetime, its client disabled, or started before every
 * session of its client was ended.
 */
export async function validateSessionToken(
  store: SessionStore,
  clock: Clock,
  lifetimes: SessionLifetimes,
  workspaceId: string,
  token: string,
): Promise<ValidSession | null> {
  const now = clock.now();
  const idHash = hashSecretToken(token);
  const row = await readSession(store, idHash, workspaceId);
  if (!row || row.disabled_at !== null) return null;
  if (row.expires_at <= now || row.last_seen_at + lifetimes.idleTimeoutMs <= now || row.client_generation < row.session_generation) {
    await store.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
    // Only this entry: an expired cookie costs the other sessions nothing (issue 13 item 1).
    store.sessionCache.forgetSession(idHash);
    return null;
  }
  if (now - row.last_seen_at >= lastSeenResolutionMs) {
    row.last_seen_at = now;
    await store.db.updateTable('sessions').set({ last_seen_at: now }).where('id_hash', '=', idHash).execute();
  }
  return { idHash, workspaceId, clientId: row.client_id, clientEmail: row.email, clientName: row.name, clientGeneration: row.client_generation, signedInAt: row.created_at, expiresAt: row.expires_at };
}

export interface SessionSummary {
  idHash: string;
  signInMethod: string;
  userAgent: string;
  ip: string;
  createdAt: number;
  lastSeenAt: number;
}

/** A client's live sessions, most recently seen first. */
export async function listClientSessions(db: Kysely<Database>, clock: Clock, lifetimes: SessionLifetimes, clientId: string): Promise<SessionSummary[]> {
  const now = clock.now();
  const rows = await db
    .selectFrom('sessions')
    .select(['id_hash', 'sign_in_method', 'user_agent', 'ip', 'created_at', 'last_seen_at'])
    .where('client_id', '=', clientId)
    .where('expires_at', '>', now)
    .where('last_seen_at', '>', now - lifetimes.idleTimeoutMs)
    .orderBy('last_seen_at', 'desc')
    .execute();
  return rows.map((row) => ({
    idHash: row.id_hash,
    signInMethod: row.sign_in_method,
    userAgent: row.user_agent,
    ip: row.ip,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
  }));
}

/**
 * Ends one session of a client; true when there was one to end. With `ending` (another browser
 * ended it), its browser is told why on its next visit (session-endings.ts).
 */
export async function endClientSession(store: SessionStore, clientId: string, idHash: string, ending?: SessionEnding): Promise<boolean> {
  const ended = await store.db
    .deleteFrom('sessions')
    .where('client_id', '=', clientId)
    .where('id_hash', '=', idHash)
    .returning(['id_hash', 'workspace_id', 'expires_at'])
    .execute();
  // Forgotten once the row is gone, so no read in between can bring it back (session-cache.ts).
  store.sessionCache.forgetSession(idHash);
  if (ending) await noteEndedSessions(store.db, ended, ending);
  return ended.length > 0;
}

/**
 * Ends every session of a client, but `except` (the browser that changed the password); returns
 * how many ended. In a transaction (`store.db` is one), they end when it commits. With `ending`,
 * each ended session's browser but `endedBy` (the one asking) is told why on its next visit; the
 * note is written after the sessions end, so a crash in between loses the note, never the ending.
 *
 * The client's session generation goes up first: a sign-in that checked the client before this
 * and stores its session after it (a link used a moment earlier) stores a session that is already
 * over, so nothing started before the ending outlives it, whatever the order of the commits.
 */
export async function endAllClientSessions(
  store: SessionStore,
  clientId: string,
  options: { except?: string | null; ending?: SessionEnding; endedBy?: string | null } = {},
): Promise<number> {
  const bumped = await store.db
    .updateTable('clients')
    .set({ session_generation: sql<number>`session_generation + 1` })
    .where('id', '=', clientId)
    .returning('session_generation')
    .executeTakeFirst();
  let sessions = store.db.deleteFrom('sessions').where('client_id', '=', clientId);
  if (options.except) sessions = sessions.where('id_hash', '!=', options.except);
  // The rows this statement deleted, exactly: the ones whose browsers are told why.
  const ended = await sessions.returning(['id_hash', 'workspace_id', 'expires_at']).execute();
  if (options.except && bumped) {
    await store.db.updateTable('sessions').set({ client_generation: bumped.session_generation }).where('client_id', '=', clientId).where('id_hash', '=', options.except).execute();
  }
  store.sessionCache.forgetClient(clientId);
  // Not the browser that asked for the ending: it is signed out on the spot, and knows why.
  if (options.ending) await noteEndedSessions(store.db, ended.filter((row) => row.id_hash !== options.endedBy), options.ending);
  return ended.length;
}
