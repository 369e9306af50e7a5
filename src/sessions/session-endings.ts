import type { Kysely } from 'kysely';
import { hashSecretToken } from '../crypto/tokens.js';
import type { Database } from '../storage/schema.js';

/**
 * Why a session was ended from somewhere other than its own browser, as that browser is told on
 * its next visit. A browser that signs itself out needs no note.
 */
export type SessionEndReason =
  | 'signed_out_elsewhere'
  | 'signed_out_others'
  | 'signed_out_everywhere'
  | 'password_changed'
  | 'password_set'
  | 'password_reset'
  | 'client_disabled';

const sessionEndReasons: ReadonlySet<string> = new Set<SessionEndReason>([
  'signed_out_elsewhere',
  'signed_out_others',
  'signed_out_everywhere',
  'password_changed',
  'password_set',
  'password_reset',
  'client_disabled',
]);

/** What an ending needs to be noted: why, and when. */
export interface SessionEnding {
  reason: SessionEndReason;
  now: number;
}

/**
 * Notes why these sessions (rows just deleted) ended. The note is the session's id hash (never the
 * cookie) and a reason, and lasts until the session would have expired anyway (its cookie goes
 * from the browser then too), when purge-expired.ts deletes it: no session is kept for this.
 */
export async function noteEndedSessions(
  db: Kysely<Database>,
  ended: { id_hash: string; workspace_id: string; expires_at: number }[],
  ending: SessionEnding,
): Promise<void> {
  if (ended.length === 0) return;
  await db
    .insertInto('ended_sessions')
    .values(ended.map((row) => ({ id_hash: row.id_hash, workspace_id: row.workspace_id, reason: ending.reason, ended_at: ending.now, expires_at: row.expires_at })))
    // A session id is never reused; a second note for one (two endings racing) keeps the first.
    .onConflict((conflict) => conflict.column('id_hash').doNothing())
    .execute();
}

/**
 * Why the session this cookie named was ended from elsewhere, or null (never such a session, or
 * told already). The note is taken as it is read, so the browser is told once.
 */
export async function takeSessionEndReason(db: Kysely<Database>, now: number, workspaceId: string, sessionToken: string): Promise<SessionEndReason | null> {
  // Read first: a sign-in page opened with a stale or made-up cookie costs a read, not a write
  // (writes queue behind SQLite's one writer). The delete then takes the note once.
  const noted = await db
    .selectFrom('ended_sessions')
    .select('reason')
    .where('id_hash', '=', hashSecretToken(sessionToken))
    .where('workspace_id', '=', workspaceId)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!noted) return null;
  const row = await db
    .deleteFrom('ended_sessions')
    .where('id_hash', '=', hashSecretToken(sessionToken))
    // Another workspace's cookie counts for nothing, here as everywhere.
    .where('workspace_id', '=', workspaceId)
    .where('expires_at', '>', now)
    .returning('reason')
    .executeTakeFirst();
  return row && sessionEndReasons.has(row.reason) ? (row.reason as SessionEndReason) : null;
}
