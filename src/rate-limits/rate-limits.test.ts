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
    const take = (key: string, rule: { cooldownMs: number; perHour: number }) => takeEmailSlot(db, now, { key, ...rule });
    const cooling = { cooldownMs: 60_000, perHour: 5 };
    expect(await Promise.all([take('email:a', cooling), take('email:a', cooling), take('email:b', cooling), take('email:a', cooling), take('email:c', cooling)])).toEqual([
      true, false, true, false, true,
    ]);
    const capped = { cooldownMs: 0, perHour: 3 };
    expect(await Promise.all(Array.from({ length: 5 }, () => take('email:d', capped)))).toEqual([true, true, true, false, false]);
    // Two sets of rules in one turn: each keeps its own.
    expect(await Promise.all([take('email:e', capped), take('email:e', cooling), take('email:f', cooling), take('email:f', capped)])).toEqual([true, false, true, true]);
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
