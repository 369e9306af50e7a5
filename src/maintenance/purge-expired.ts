import type { Kysely } from 'kysely';
import { purgeRateLimits } from '../rate-limits/rate-limits.js';
import type { Database } from '../storage/schema.js';

/** How long ended links are kept, so a late click can still be told "already used" rather than "not valid". */
const endedLinkRetentionMs = 24 * 3600_000;

/** Deletes what can no longer be used: expired sessions, old links, stale rate-limit counters. */
export async function purgeExpiredRecords(db: Kysely<Database>, now: number, sessionIdleTimeoutMs: number): Promise<void> {
  await db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', now - sessionIdleTimeoutMs)]))
    .execute();
  await db.deleteFrom('magic_links').where('expires_at', '<=', now - endedLinkRetentionMs).execute();
  await purgeRateLimits(db, now, 2 * 3600_000);
}
