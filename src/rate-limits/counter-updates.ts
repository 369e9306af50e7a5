import { sql } from 'kysely';

/*
 * How an upsert of `rate_limits` changes a counter already there, shared by the one-by-one
 * upserts (rate-limits.ts) and the ones that count a turn's hits together (counted-together.ts).
 * `excluded` is the row the upsert offered.
 */

/** Counts `excluded.hits` more hits in the same window; in a new window the count starts again. */
export const countHits = {
  hits: sql<number>`case when rate_limits.window_start = excluded.window_start then rate_limits.hits + excluded.hits else excluded.hits end`,
  window_start: sql<number>`excluded.window_start`,
  last_hit_at: sql<number>`excluded.last_hit_at`,
};

/**
 * Takes the address's email slot for `excluded.last_hit_id`, only when the cooldown has passed and
 * the hour's cap is not reached; a refused request changes nothing, so trying again and again does
 * not push the cooldown further out.
 */
export function takeEmailSlotIfAllowed(cooldownCutoff: unknown, perHour: unknown) {
  const allowed = sql<boolean>`(rate_limits.last_hit_at <= ${cooldownCutoff} and (rate_limits.window_start <> excluded.window_start or rate_limits.hits < ${perHour}))`;
  return {
    hits: sql<number>`case when ${allowed} then (case when rate_limits.window_start = excluded.window_start then rate_limits.hits + 1 else 1 end) else rate_limits.hits end`,
    window_start: sql<number>`case when ${allowed} then excluded.window_start else rate_limits.window_start end`,
    last_hit_at: sql<number>`case when ${allowed} then excluded.last_hit_at else rate_limits.last_hit_at end`,
    last_hit_id: sql<string>`case when ${allowed} then excluded.last_hit_id else rate_limits.last_hit_id end`,
  };
}
