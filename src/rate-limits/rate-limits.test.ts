import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialects } from '../../test/helpers/databases.js';
import { openDatabase, type DatabaseHandle } from '../storage/database.js';
import { hitRateLimit, takeEmailSlot } from './rate-limits.js';

describe.each(testDialects)('rate limits hit by many at once, on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function database(): Promise<DatabaseHandle> {
    const created = await createTestDatabase(dialect);
    cleanups.push(() => created.drop());
    const handle = await openDatabase(created.url);
    cleanups.push(() => handle.close());
    return handle;
  }

  // On PostgreSQL the hits made in one turn of the event loop are counted by one upsert: each must
  // still be answered as if the hits had been counted one by one, in the order they were made.
  it('answers each hit by the count after it, whether hits arrive together or apart', async () => {
    const { db } = await database();
    const now = 1_700_000_000_000;
    const hit = (key: string) => hitRateLimit(db, now, { key, windowMs: 60_000, limit: 6 }).then((decision) => decision.allowed);

    const together = await Promise.all([...Array.from({ length: 10 }, () => hit('ip:a')), ...Array.from({ length: 4 }, () => hit('ip:b'))]);
    expect(together).toEqual([true, true, true, true, true, true, false, false, false, false, true, true, true, true]);

    const later = await Promise.all([hit('ip:b'), hit('ip:a'), hit('ip:b'), hit('ip:b')]);
    expect(later).toEqual([true, false, true, false]);
  });

  it("gives an address's email slot to the first of simultaneous requests only, and keeps to the hourly cap", async () => {
    const { db } = await database();
    const now = 1_700_000_000_000;
    const take = (key: string, rule: { cooldownMs: number; perHour: number }) => takeEmailSlot(db, now, { key, ...rule }).then((slot) => slot.taken);
    const cooling = { cooldownMs: 60_000, perHour: 5 };
    expect(await Promise.all([take('email:a', cooling), take('email:a', cooling), take('email:b', cooling), take('email:a', cooling), take('email:c', cooling)])).toEqual([
      true, false, true, false, true,
    ]);
    const capped = { cooldownMs: 0, perHour: 3 };
    expect(await Promise.all(Array.from({ length: 5 }, () => take('email:d', capped)))).toEqual([true, true, true, false, false]);
    // Two sets of rules in one turn: each keeps its own.
    expect(await Promise.all([take('email:e', capped), take('email:e', cooling), take('email:f', cooling), take('email:f', capped)])).toEqual([true, false, true, true]);
  });

  // 1_700_002_800_000 is the start of an hour: a fixed hourly window would still be closed 12 minutes on.
  const minuteIntoAnHour = 1_700_002_800_000 + 60_000;
  const refillMs = 12 * 60_000;

  it("issue 13 item 9: an address's exhausted email slots refill one per hour/perHour, so the lock-out lasts one refill period, not until the hour ends", async () => {
    const { db } = await database();
    const takeAt = (now: number) => takeEmailSlot(db, now, { key: 'email:locked', cooldownMs: 0, perHour: 5 }).then((slot) => slot.taken);
    const start = minuteIntoAnHour;
    // Five requests from anyone empty the bucket (each sent a mail to the client).
    expect(await Promise.all(Array.from({ length: 6 }, () => takeAt(start)))).toEqual([true, true, true, true, true, false]);
    expect(await takeAt(start + refillMs - 1)).toBe(false);
    expect(await takeAt(start + refillMs)).toBe(true);
    expect(await takeAt(start + refillMs)).toBe(false);
    expect(await takeAt(start + 2 * refillMs)).toBe(true);
    // A quiet hour refills the bucket, but never beyond `perHour`.
    expect(await Promise.all(Array.from({ length: 7 }, () => takeAt(start + 4 * 3_600_000)))).toEqual([true, true, true, true, true, false, false]);
  });

  it('issue 13 item 9: the cooldown still holds between the slots of a full bucket, and a refused request takes nothing', async () => {
    const { db } = await database();
    const takeAt = (now: number) => takeEmailSlot(db, now, { key: 'email:cooling', cooldownMs: 60_000, perHour: 5 }).then((slot) => slot.taken);
    const start = minuteIntoAnHour;
    expect(await takeAt(start)).toBe(true);
    expect(await takeAt(start + 59_999)).toBe(false);
    for (let minute = 1; minute <= 4; minute += 1) expect(await takeAt(start + minute * 60_000)).toBe(true);
    // Empty now; hammering it while empty does not push the refill further out.
    for (let second = 301; second < 720; second += 7) expect(await takeAt(start + second * 1000)).toBe(false);
    expect(await takeAt(start + refillMs)).toBe(true);
  });

  it('issue 13 item 9: of many simultaneous requests for one address at a full bucket, exactly perHour get a slot', async () => {
    const { db } = await database();
    // perHour 7: a refill period (514,285.7 ms) that is not a whole number of milliseconds.
    const rule = { key: 'email:crowded', cooldownMs: 0, perHour: 7 };
    const together = await Promise.all(Array.from({ length: 30 }, (_, index) => takeEmailSlot(db, minuteIntoAnHour + (index % 3), rule)));
    expect(together.filter((slot) => slot.taken)).toHaveLength(7);
    // One refill period later, exactly one more.
    const later = await Promise.all(Array.from({ length: 10 }, () => takeEmailSlot(db, minuteIntoAnHour + 2 + Math.ceil(3_600_000 / 7), rule)));
    expect(later.filter((slot) => slot.taken)).toHaveLength(1);
  });

  it('issue 17: says when the next slot opens, by the cooldown or by the empty bucket, taken or refused, alone or among simultaneous requests', async () => {
    const { db } = await database();
    const start = minuteIntoAnHour;
    const rule = { key: 'email:when', cooldownMs: 60_000, perHour: 5 };
    const takeAt = (now: number) => takeEmailSlot(db, now, rule);
    expect(await takeAt(start)).toEqual({ taken: true, nextSlotAt: start + 60_000 });
    // Refused in the cooldown: the same moment, not pushed out.
    expect(await takeAt(start + 20_000)).toEqual({ taken: false, nextSlotAt: start + 60_000 });
    // Simultaneous requests (on PostgreSQL, one statement for all) each hear the same moment.
    expect(await Promise.all([takeAt(start + 30_000), takeAt(start + 30_000), takeAt(start + 30_000)])).toEqual(
      Array.from({ length: 3 }, () => ({ taken: false, nextSlotAt: start + 60_000 })),
    );
    for (let minute = 1; minute <= 4; minute += 1) expect((await takeAt(start + minute * 60_000)).taken).toBe(true);
    // The bucket is empty after five: the next slot is the first refill, 12 minutes after the first email.
    expect(await takeAt(start + 5 * 60_000)).toEqual({ taken: false, nextSlotAt: start + refillMs });
    expect(await takeAt(start + refillMs)).toEqual({ taken: true, nextSlotAt: start + 2 * refillMs });
    // With no cooldown and slots left, the next request may come at once.
    expect(await takeEmailSlot(db, start, { key: 'email:free', cooldownMs: 0, perHour: 5 })).toEqual({ taken: true, nextSlotAt: start });
  });

  it('starts a new count in the next window', async () => {
    const { db } = await database();
    const hitAt = (now: number) => hitRateLimit(db, now, { key: 'ip:c', windowMs: 60_000, limit: 2 });
    const start = 1_700_000_040_000;
    expect((await Promise.all([hitAt(start), hitAt(start), hitAt(start)])).map((decision) => decision.allowed)).toEqual([true, true, false]);
    expect(await hitAt(start + 1_000)).toEqual({ allowed: false, retryAfterMs: 59_000 });
    expect(await hitAt(start + 60_000)).toEqual({ allowed: true });
  });
});

describe('email slots taken from two instances of one PostgreSQL database at once', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('issue 13 item 9: of 40 simultaneous requests for one address, split over two database handles, exactly perHour get a slot', async () => {
    const created = await createTestDatabase('postgres');
    cleanups.push(() => created.drop());
    // Two handles, each with its own pool, stand for two instances: their upserts meet on the row.
    const handles: DatabaseHandle[] = [];
    for (let instance = 0; instance < 2; instance += 1) {
      const handle = await openDatabase(created.url);
      cleanups.push(() => handle.close());
      handles.push(handle);
    }
    const now = 1_700_002_800_000 + 60_000;
    const rule = { key: 'email:shared', cooldownMs: 0, perHour: 7 };
    const taken = await Promise.all(Array.from({ length: 40 }, (_, index) => takeEmailSlot(handles[index % 2]!.db, now + (index % 5), rule)));
    expect(taken.filter((slot) => slot.taken)).toHaveLength(7);
    const later = await Promise.all(Array.from({ length: 10 }, (_, index) => takeEmailSlot(handles[index % 2]!.db, now + 4 + Math.ceil(3_600_000 / 7), rule)));
    expect(later.filter((slot) => slot.taken)).toHaveLength(1);
  });
});
