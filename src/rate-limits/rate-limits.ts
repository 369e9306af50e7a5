import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { operationsOf } from '../storage/operations/storage-operations.js';
import { emailSlotRule, nextEmailSlotAt } from './counter-updates.js';
import type { Database } from '../storage/schema.js';

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

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
  const hits = await operationsOf(db).countRateLimitHit({ key: rule.key, windowStart, now });
  if (hits <= rule.limit) return { allowed: true };
  return { allowed: false, retryAfterMs: windowStart + rule.windowMs - now };
}

/** Whether a request got its email slot, and when the address may have its next one. */
export interface EmailSlotDecision {
  taken: boolean;
  /** The first moment a request for this address could get a slot, as the counter stands after this one. */
  nextSlotAt: number;
}

/**
 * Takes a slot to send one email to an address, or says no: at least `cooldownMs` since the last
 * email, and a bucket of `perHour` slots that refills one every hour/`perHour` (counter-updates.ts).
 * One upsert, atomic in both dialects, which also returns when the next slot opens (issue 17: the
 * page says when to ask again). A refused attempt changes nothing, so trying again and again does
 * not push the cooldown or the refill further out.
 */
export async function takeEmailSlot(
  db: Kysely<Database>,
  now: number,
  rule: { key: string; cooldownMs: number; perHour: number },
): Promise<EmailSlotDecision> {
  const hitId = randomUUID();
  const state = await operationsOf(db).takeEmailSlot({ key: rule.key, now, hitId, cooldownMs: rule.cooldownMs, perHour: rule.perHour });
  // Our own id comes back only if our hit was the one let through, even among simultaneous ones.
  return { taken: state.holderId === hitId, nextSlotAt: nextEmailSlotAt(state, emailSlotRule(now, rule)) };
}
/** Forgets counters whose window ended more than `retentionMs` ago. */
export async function purgeRateLimits(db: Kysely<Database>, now: number, retentionMs: number): Promise<void> {
  await db.deleteFrom('rate_limits').where('last_hit_at', '<', now - retentionMs).execute();
}
