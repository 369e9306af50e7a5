import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/databases.js';
import { connectDatabase } from '../../database.js';

describe('the migration lock on postgres', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  // Review of issue 13 item 2: when the unlock failed, the connection went back to the pool still
  // holding the advisory lock, and every other instance's migration waited for it for ever.
  it('lets the lock go even when the work leaves its connection unable to unlock', async () => {
    const database = await createTestDatabase('postgres');
    cleanups.push(() => database.drop());
    const first = await connectDatabase(database.url);
    cleanups.push(() => first.close());
    const second = await connectDatabase(database.url);
    cleanups.push(() => second.close());

    // An aborted transaction left open: pg_advisory_unlock then fails on that connection.
    const failed = first.withMigrationLock(async (db) => {
      await sql`begin`.execute(db);
      await sql`select 1 / 0`.execute(db);
    });
    await expect(failed).rejects.toThrow('division by zero');

    let timer!: NodeJS.Timeout;
    const gaveUp = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still locked after 10 s'), 10_000)));
    const migrated = second.withMigrationLock(async () => 'migrated');
    expect(await Promise.race([migrated, gaveUp])).toBe('migrated');
    clearTimeout(timer);
  });
});
