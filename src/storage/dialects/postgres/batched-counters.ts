import { sql, type Kysely } from 'kysely';
import { countHits, emailSlotRule, takeEmailSlotIfAllowed } from '../../../rate-limits/counter-updates.js';
import type { EmailSlotRequest, EmailSlotState, RateLimitHit } from '../../operations/storage-operations.js';
import { prepareQuery } from '../../prepared-query.js';
import type { Database } from '../../schema.js';

/*
 * The counter writes of one turn of the event loop go to PostgreSQL together: one upsert for the
 * plain hits, one for the email slots, with arrays as parameters. Each caller is still answered as
 * if the writes had run one by one, in the order they were made, so every limit holds exactly as
 * with one upsert per hit: both forms change a counter by the same rules (counter-updates.ts).
 */

const counterColumns = ['key', 'window_start', 'hits', 'last_hit_at', 'last_hit_id'] as const;

const countHitsTogether = prepareQuery(
  (db, keys: string[], windowStarts: number[], hits: number[], now: number) =>
    db
      .insertInto('rate_limits')
      .columns(counterColumns)
      .expression(
        sql`select hit.key, hit.window_start, hit.hits, cast(${now} as bigint), ''
            from unnest(cast(${keys} as text[]), cast(${windowStarts} as bigint[]), cast(${hits} as integer[])) as hit (key, window_start, hits)`,
      )
      .onConflict((conflict) => conflict.column('key').doUpdateSet(countHits))
      .returning(['key', 'hits']),
  { durability: 'relaxed' },
);

const takeEmailSlotsTogether = prepareQuery(
  (db, keys: string[], hitIds: string[], now: number, fullAtIfNew: number, cooldownMs: number, refillMs: number, burstMs: number) =>
    db
      .insertInto('rate_limits')
      .columns(counterColumns)
      .expression(
        sql`select slot.key, cast(${fullAtIfNew} as bigint), 1, cast(${now} as bigint), slot.hit_id
            from unnest(cast(${keys} as text[]), cast(${hitIds} as text[])) as slot (key, hit_id)`,
      )
      .onConflict((conflict) => conflict.column('key').doUpdateSet(takeEmailSlotIfAllowed(cooldownMs, refillMs, burstMs)))
      .returning(['key', 'last_hit_id', 'last_hit_at', 'window_start']),
  { durability: 'relaxed' },
);

// Keys go in sorted, in every batch: two batches in flight at once then lock their rows in the
// same order and never wait on each other (a deadlock, seen under the bench before sorting).
const inLockOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The count of each hit's key after that hit, for the hits of one turn. */
export async function countHitsAtOnce(db: Kysely<Database>, hits: RateLimitHit[]): Promise<number[]> {
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
  const keys = [...byKey.keys()].sort(inLockOrder);
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

/** Each address's counter as each slot request of one turn left it, in the order they were made. */
export async function takeEmailSlotsAtOnce(db: Kysely<Database>, slots: EmailSlotRequest[]): Promise<EmailSlotState[]> {
  const leftStates = new Map<EmailSlotRequest, EmailSlotState>();
  // An upsert may touch a key only once, so the requests for one address go in rounds, in the order
  // they were made; and the rules are parameters, so a round takes one statement per set of rules.
  const queues = new Map<string, EmailSlotRequest[]>();
  for (const slot of slots) queues.set(slot.key, [...(queues.get(slot.key) ?? []), slot]);
  while (queues.size > 0) {
    const round = new Map<string, EmailSlotRequest[]>();
    for (const [key, queue] of queues) {
      const slot = queue.shift()!;
      if (queue.length === 0) queues.delete(key);
      const rules = `${slot.cooldownMs}/${slot.perHour}`;
      round.set(rules, [...(round.get(rules) ?? []), slot]);
    }
    for (const group of round.values()) {
      const entries = group.sort((a, b) => inLockOrder(a.key, b.key));
      // The latest clock of the group stands for all of it: for the others, the cooldown and the
      // refill may end as much sooner as their clocks read earlier (the milliseconds of one turn).
      const now = Math.max(...entries.map((slot) => slot.now));
      const rule = emailSlotRule(now, entries[0]!);
      const rows = await takeEmailSlotsTogether(
        db,
        entries.map((slot) => slot.key),
        entries.map((slot) => slot.hitId),
        now,
        rule.fullAtIfNew,
        rule.cooldownMs,
        rule.refillMs,
        rule.burstMs,
      );
      const byKey = new Map(entries.map((slot) => [slot.key, slot]));
      for (const row of rows) leftStates.set(byKey.get(row.key)!, { holderId: row.last_hit_id, lastEmailAt: row.last_hit_at, bucketFullAt: row.window_start });
    }
  }
  return slots.map((slot) => leftStates.get(slot)!);
}
