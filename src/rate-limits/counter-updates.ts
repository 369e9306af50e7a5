import { sql } from 'kysely';

/*
 * How an upsert of `rate_limits` changes a counter already there, shared by the one-at-a-time
 * upserts (storage/operations/one-at-a-time.ts) and the dialects' that count a turn's hits together
 * (under storage/dialects/).
 * `excluded` is the row the upsert offered.
 */

/** Counts `excluded.hits` more hits in the same window; in a new window the count starts again. */
export const countHits = {
  hits: sql<number>`case when rate_limits.window_start = excluded.window_start then rate_limits.hits + excluded.hits else excluded.hits end`,
  window_start: sql<number>`excluded.window_start`,
  last_hit_at: sql<number>`excluded.last_hit_at`,
};

const hourMs = 3_600_000;

/**
 * An address's email rule as the upsert takes it: a token bucket of `perHour` slots that refills
 * one slot every hour/`perHour` (rounded up to a whole millisecond, never looser), plus at least
 * `cooldownMs` between two emails. A fixed hourly window would let five requests from anyone
 * silence the address until the hour ends; the bucket locks it out for one refill period at most
 * (issue 13 item 9; the trade-off is in SECURITY.md).
 */
export function emailSlotRule(now: number, rule: { cooldownMs: number; perHour: number }) {
  const refillMs = Math.ceil(hourMs / rule.perHour);
  return {
    cooldownMs: rule.cooldownMs,
    refillMs,
    /** How far ahead of now the bucket's "full again" time may be while a slot is left. */
    burstMs: (rule.perHour - 1) * refillMs,
    /** `window_start` of a counter made by this request: one slot taken. */
    fullAtIfNew: now + refillMs,
  };
}

/**
 * When the address may have its next email, from its counter as a request left it: once the
 * cooldown since the last email has passed and the bucket holds a slot again (the two conditions
 * of takeEmailSlotIfAllowed, solved for the time). Known and unknown addresses share the rule, so
 * telling it to the person asking tells nothing about the address.
 */
export function nextEmailSlotAt(state: { lastEmailAt: number; bucketFullAt: number }, rule: { cooldownMs: number; burstMs: number }): number {
  return Math.max(state.lastEmailAt + rule.cooldownMs, state.bucketFullAt - rule.burstMs);
}

/**
 * Takes the address's email slot for `excluded.last_hit_id` when the cooldown has passed and the
 * bucket holds a slot (emailSlotRule); a refused request changes nothing, so trying again and
 * again does not push the refill or the cooldown further out. The row keeps GCRA's state:
 * `window_start` is when the bucket is full again, `last_hit_at` the last email's time, `hits`
 * the emails let through while the counter lived. Its clock is the later of the request's and the
 * last email's: an instance whose clock reads a little behind gets no slot sooner, nor loses one.
 */
export function takeEmailSlotIfAllowed(cooldownMs: unknown, refillMs: unknown, burstMs: unknown) {
  const now = sql<number>`(case when excluded.last_hit_at > rate_limits.last_hit_at then excluded.last_hit_at else rate_limits.last_hit_at end)`;
  const allowed = sql<boolean>`(rate_limits.last_hit_at <= ${now} - cast(${cooldownMs} as bigint) and rate_limits.window_start <= ${now} + cast(${burstMs} as bigint))`;
  const fullAgainAt = sql<number>`(case when rate_limits.window_start > ${now} then rate_limits.window_start else ${now} end) + cast(${refillMs} as bigint)`;
  return {
    hits: sql<number>`case when ${allowed} then rate_limits.hits + 1 else rate_limits.hits end`,
    window_start: sql<number>`case when ${allowed} then ${fullAgainAt} else rate_limits.window_start end`,
    last_hit_at: sql<number>`case when ${allowed} then ${now} else rate_limits.last_hit_at end`,
    last_hit_id: sql<string>`case when ${allowed} then excluded.last_hit_id else rate_limits.last_hit_id end`,
  };
}
