import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { batchesStatements } from '../storage/direct-runner.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database } from '../storage/schema.js';
import { countHitInBatch, takeEmailSlotInBatch } from './counted-together.js';
import { countHits, emailSlotRule, takeEmailSlotIfAllowed } from './counter-updates.js';

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

// Both upserts run on every POST to a door: compiled once (prepareQuery), not per request, and
// committed without waiting for the disk on PostgreSQL (`relaxed`): a database crash may forget
// the last fraction of a second of counts, and every request no longer waits for an fsync on the
// one counter row its workspace shares.
const countHit = prepareQuery(
  (db, key: string, windowStart: number, now: number) =>
    db
      .insertInto('rate_limits')
      .values({ key, window_start: windowStart, hits: 1, last_hit_at: now, last_hit_id: '' })
      .onConflict((conflict) => conflict.column('key').doUpdateSet(countHits))
      .returning(['hits']),
  { durability: 'relaxed' },
);

const countEmailHit = prepareQuery(
  (db, key: string, fullAtIfNew: number, now: number, hitId: string, cooldownMs: number, refillMs: number, burstMs: number) =>
    db
      .insertInto('rate_limits')
      .values({ key, window_start: fullAtIfNew, hits: 1, last_hit_at: now, last_hit_id: hitId })
      .onConflict((conflict) => conflict.column('key').doUpdateSet(takeEmailSlotIfAllowed(cooldownMs, refillMs, burstMs)))
      .returning(['last_hit_id']),
  { durability: 'relaxed' },
);

/**
 * Counts one hit against `key` in fixed windows of `windowMs` and says whether it is within
 * `limit`. One upsert, atomic in both dialects, so the limit holds across every instance sharing
 * the database (an in-process Map would not).
 */
export async function hitRateLimit(
  db: Kysely<Database>,
  now: number,
  rule: { key: string; windowMs: number; limit: number },
): Promise<RateLimitDecision> {
  const windowStart = now - (now % rule.windowMs);
  const hits =
    batchesStatements(db)
      ? await countHitInBatch(db, { key: rule.key, windowStart, now })
      : (await countHit(db, rule.key, windowStart, now))[0]!.hits;
  if (hits <= rule.limit) return { allowed: true };
  return { allowed: false, retryAfterMs: windowStart + rule.windowMs - now };
}

/**
 * Takes a slot to send one email to an address, or says no: at least `cooldownMs` since the last
 * email, and a bucket of `perHour` slots that refills one every hour/`perHour` (counter-updates.ts).
 * One upsert, atomic in both dialects. A refused attempt changes nothing, so trying again and
 * again does not push the cooldown or the refill further out.
 */
export async function takeEmailSlot(
  db: Kysely<Database>,
  now: number,
  rule: { key: string; cooldownMs: number; perHour: number },
): Promise<boolean> {
  const hitId = randomUUID();
  // Our own id comes back only if our hit was the one let through, even among simultaneous ones.
  if (batchesStatements(db)) {
    return (await takeEmailSlotInBatch(db, { key: rule.key, now, hitId, cooldownMs: rule.cooldownMs, perHour: rule.perHour })) === hitId;
  }
  const slot = emailSlotRule(now, rule);
  const [row] = await countEmailHit(db, rule.key, slot.fullAtIfNew, now, hitId, slot.cooldownMs, slot.refillMs, slot.burstMs);
  return row!.last_hit_id === hitId;
}

/** Forgets counters whose window ended more than `retentionMs` ago. */
export async function purgeRateLimits(db: Kysely<Database>, now: number, retentionMs: number): Promise<void> {
  await db.deleteFrom('rate_limits').where('last_hit_at', '<', now - retentionMs).execute();
}
