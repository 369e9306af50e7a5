import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import type { SessionEndReason } from './session-endings.js';
import { endAllClientSessions, type SessionStore } from './sessions.js';

/** Why a client's outstanding sign-in links died, as the link's page will explain it. */
export type LinkEndReason = 'superseded' | 'client_disabled' | 'email_changed';

/**
 * Ends everything a client holds: every session but `keepSessionIdHash` (the browser that changed
 * the password), every outstanding sign-in link and every outstanding reset link; returns how many
 * sessions ended. Their browsers are told `sessionEndReason` on their next visit. The one writer of these endings for disable, reset and password change: the
 * cache hears of the sessions here (endAllClientSessions), so callers only commit. In a
 * transaction (`store.db` is one), all of it ends when that commits.
 */
export async function endEverythingOfClient(
  store: SessionStore,
  clientId: string,
  options: { now: number; linkEndReason: LinkEndReason; keepSessionIdHash?: string | null; sessionEndReason?: SessionEndReason },
): Promise<number> {
  const { db } = store;
  const { now } = options;
  const sessionsEnded = await endAllClientSessions(store, clientId, {
    except: options.keepSessionIdHash,
    ending: options.sessionEndReason ? { reason: options.sessionEndReason, now } : undefined,
  });
  await endOutstandingLinksOfClient(db, clientId, options);
  return sessionsEnded;
}

/** Ends every outstanding sign-in and reset link of a client (its sessions stay): the one writer of these endings. */
export async function endOutstandingLinksOfClient(db: Kysely<Database>, clientId: string, options: { now: number; linkEndReason: LinkEndReason }): Promise<void> {
  const { now } = options;
  // One at a time, in the order of their token hashes: the order in which a batch of redemptions
  // locks a client's links (storage/dialects/postgres/batched-link-consumption.ts), so the two never
  // wait on each other (a deadlock). A client holds a handful of live links at most.
  const liveLinks = await db.selectFrom('magic_links').select('token_hash').where('client_id', '=', clientId).where('ended_at', 'is', null).orderBy('token_hash').execute();
  for (const { token_hash } of liveLinks) {
    await db.updateTable('magic_links').set({ ended_at: now, end_reason: options.linkEndReason }).where('token_hash', '=', token_hash).where('ended_at', 'is', null).execute();
  }
  await db.updateTable('password_resets').set({ ended_at: now }).where('client_id', '=', clientId).where('ended_at', 'is', null).execute();
}
