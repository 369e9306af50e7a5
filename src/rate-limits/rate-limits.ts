import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DialectCapabilities } from '../storage/dialects/dialect.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database } from '../storage/schema.js';
import { TickBatch } from '../storage/tick-batch.js';

export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

// Both upserts run on every POST to a door: compiled once (prepareQuery), not per request, and
// committed without waiting for the disk on PostgreSQL (`relaxed`): a database crash may forget
// the last fraction of a second of counts, and every request no longer waits for an fsync on the
// one counter row its workspace shares.
const countHit = prepareQuery((db, key: string, windowStart: number, now: number) =>
  db
    .insertInto('rate_limits')
    .values({ key, window_start: windowStart, hits: 1, last_hit_at: now, last_hit_id: '' })
    .onConflict((conflict) =>
      conflict.column('key').doUpdateSet({
        hits: sql`case when rate_limits.window_start = excluded.window_start then rate_limits.hits + 1 else 1 end`,
        window_start: sql`excluded.window_start`,
        last_hit_at: sql`excluded.last_hit_at`,
      }),
    )
    .returning(['hits']),
  { durability: 'relaxed' },
);

const countEmailHit = prepareQuery((db, key: string, windowStart: number, now: number, hitId: string, cooldownCutoff: number, perHour: number) => {
  const allowed = sql<boolean>`(rate_limits.last_hit_at <= ${cooldownCutoff} and (rate_limits.window_start <> excluded.window_start or rate_limits.hits < ${perHour}))`;
  return db
    .insertInto('rate_limits')
    .values({ key, window_start: windowStart, hits: 1, last_hit_at: now, last_hit_id: hitId })
    .onConflict((conflict) =>
      conflict.column('key').doUpdateSet({
        hits: sql`case when ${allowed} then (case when rate_limits.window_start = excluded.window_start then rate_limits.hits + 1 else 1 end) else rate_limits.hits end`,
        window_start: sql`case when ${allowed} then excluded.window_start else rate_limits.window_start end`,
        last_hit_at: sql`case when ${allowed} then excluded.last_hit_at else rate_limits.last_hit_at end`,
        last_hit_id: sql`case when ${allowed} then excluded.last_hit_id else rate_limits.last_hit_id end`,
      }),
    )
    .returning(['last_hit_id']);
}, { durability: 'relaxed' });

// Where statements cost round trips (PostgreSQL), the hits of one turn of the event loop are
// counted by one upsert: arrays as parameters, one row per key with its number of hits. Each
// caller then gets the count as it stood after its own hit, as if the hits had run one by one, so
// every limit holds exactly as with one upsert per hit.
const countHitsTogether = prepareQuery(
  (db, keys: string[], windowStarts: number[], hits: number[], now: number) => {
    const query = sql<{ key: string; hits: number }>`
      insert into rate_limits (key, window_start, hits, last_hit_at, last_hit_id)
      select hit.key, hit.window_start, hit.hits, cast(${now} as bigint), ''
      from unnest(cast(${keys} as text[]), cast(${windowStarts} as bigint[]), cast(${hits} as integer[])) as hit (key, window_start, hits)
      on conflict (key) do update set
        hits = case when rate_limits.window_start = excluded.window_start then rate_limits.hits + excluded.hits else excluded.hits end,
        window_start = excluded.window_start,
        last_hit_at = excluded.last_hit_at
      returning key, hits`;
    return { compile: () => query.compile(db) };
  },
  { durability: 'relaxed' },
);

type Hit = { key: string; windowStart: number; now: number };

const hitBatches = new WeakMap<Kysely<Database>, TickBatch<Hit, number>>();

function hitBatchOf(db: Kysely<Database>): TickBatch<Hit, number> {
  let batch = hitBatches.get(db);
  if (!batch) hitBatches.set(db, (batch = new TickBatch((hits) => countHitsAtOnce(db, hits))));
  return batch;
}

/** The count after each hit of `hits`, in order, from one upsert. */
async function countHitsAtOnce(db: Kysely<Database>, hits: Hit[]): Promise<number[]> {
  const byKey = new Map<string, { windowStart: number; count: number }>();
  // The n-th hit on a key (from 1) counts n of the batch's hits on that key.
  const nth = hits.map((hit) => {
    const entry = byKey.get(hit.key) ?? { windowStart: hit.windowStart, count: 0 };
    // A batch that spans a window's end counts all its hits in the newer window: a limit is never loosened.
    entry.windowStart = Math.max(entry.windowStart, hit.windowStart);
    entry.count += 1;
    byKey.set(hit.key, entry);
    return entry.count;
  });
  // In one order for every batch: two batches in flight at once then never wait on each other's rows (deadlock).
  const keys = [...byKey.keys()].sort();
  const rows = await countHitsTogether(
    db,
    keys,
    keys.map((key) => byKey.get(key)!.windowStart),
    keys.map((key) => byKey.get(key)!.count),
    Math.max(...hits.map((hit) => hit.now)),
  );
  const totals = new Map(rows.map((row) => [row.key, row.hits]));
  return hits.map((hit, index) => totals.get(hit.key)! - byKey.get(hit.key)!.count + nth[index]!);
}

/**
 * Counts one hit against `key` in fixed windows of `windowMs` and says whether it is within
 * `limit`. One upsert, atomic in both dialects, so the limit holds across every instance sharing
 * the database (an in-process Map would not).
 */
export async function hitRateLimit(
  db: Kysely<Database>,
  capabilities: DialectCapabilities,
  now: number,
  rule: { key: string; windowMs: number; limit: number },
): Promise<RateLimitDecision> {
  const windowStart = now - (now % rule.windowMs);
  const hits =
    capabilities.statementsCostRoundTrips && !db.isTransaction
      ? await hitBatchOf(db).add({ key: rule.key, windowStart, now })
      : (await countHit(db, rule.key, windowStart, now))[0]!.hits;
  if (hits <= rule.limit) return { allowed: true };
  return { allowed: false, retryAfterMs: windowStart + rule.windowMs - now };
}

/**
 * Takes a slot to send one email to an address, or says no: at least `cooldownMs` since the last
 * email, and at most `perHour` in the current hour. A refused attempt changes nothing, so trying
 * again and again does not push the cooldown further out.
 */
export async function takeEmailSlot(
  db: Kysely<Database>,
  now: number,
  rule: { key: string; cooldownMs: number; perHour: number },
): Promise<boolean> {
  const hour = 3_600_000;
  const windowStart = now - (now % hour);
  const hitId = randomUUID();
  const [row] = await countEmailHit(db, rule.key, windowStart, now, hitId, now - rule.cooldownMs, rule.perHour);
  // Our own id came back only if our hit was the one let through, even among simultaneous ones.
  return row!.last_hit_id === hitId;
}

/** Forgets counters whose window ended more than `retentionMs` ago. */
export async function purgeRateLimits(db: Kysely<Database>, now: number, retentionMs: number): Promise<void> {
  await db.deleteFrom('rate_limits').where('last_hit_at', '<', now - retentionMs).execute();
}
