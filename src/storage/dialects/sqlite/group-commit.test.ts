import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../database.js';
import { prepareQuery } from '../../prepared-query.js';

const insertCounter = prepareQuery((db, key: string, hits: number) =>
  db.insertInto('rate_limits').values({ key, window_start: 0, hits, last_hit_at: 0, last_hit_id: '' }),
);
const readCounter = prepareQuery((db, key: string) => db.selectFrom('rate_limits').select('hits').where('key', '=', key));

describe('group commit of the hot queries on SQLite', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function open(): Promise<{ handle: DatabaseHandle; otherProcess: BetterSqlite3.Database }> {
    const folder = mkdtempSync(join(tmpdir(), 'portico-group-'));
    cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
    const handle = await openDatabase(`sqlite:${join(folder, 'portico.sqlite')}`);
    cleanups.push(() => handle.close());
    // A second connection stands in for another process (the CLI) reading the same file.
    const otherProcess = new BetterSqlite3(join(folder, 'portico.sqlite'), { readonly: true });
    cleanups.push(() => otherProcess.close());
    return { handle, otherProcess };
  }

  const committedKeys = (connection: BetterSqlite3.Database) =>
    (connection.prepare('select key from rate_limits order by key').all() as { key: string }[]).map((row) => row.key);

  it('settles a write only once it is committed, where every other connection sees it', async () => {
    const { handle, otherProcess } = await open();
    const writes = [insertCounter(handle.db, 'a', 1), insertCounter(handle.db, 'b', 1), insertCounter(handle.db, 'c', 1)];
    expect(committedKeys(otherProcess)).toEqual([]);
    await Promise.all(writes);
    expect(committedKeys(otherProcess)).toEqual(['a', 'b', 'c']);
  });

  it('fails only the statement that failed; the rest of its group is committed', async () => {
    const { handle, otherProcess } = await open();
    await insertCounter(handle.db, 'taken', 1);
    const results = await Promise.allSettled([insertCounter(handle.db, 'x', 1), insertCounter(handle.db, 'taken', 2), insertCounter(handle.db, 'y', 1)]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE constraint failed/);
    expect(committedKeys(otherProcess)).toEqual(['taken', 'x', 'y']);
    expect(await readCounter(handle.db, 'taken')).toEqual([{ hits: 1 }]);
  });

  it('keeps its writes out of a Kysely transaction running at the same time, which may roll back', async () => {
    const { handle, otherProcess } = await open();
    const pending = insertCounter(handle.db, 'before', 1);
    let duringTransaction: Promise<unknown> | null = null;
    await expect(
      handle.db.transaction().execute(async (trx) => {
        await trx.insertInto('rate_limits').values({ key: 'inside', window_start: 0, hits: 1, last_hit_at: 0, last_hit_id: '' }).execute();
        // Another request's write, while the transaction holds the only connection.
        duringTransaction = insertCounter(handle.db, 'meanwhile', 1);
        await trx.selectFrom('rate_limits').selectAll().execute();
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await pending;
    await duringTransaction;
    expect(committedKeys(otherProcess)).toEqual(['before', 'meanwhile']);
  });

  // Issue 13 item 6: better-sqlite3 is synchronous, and waiting through busy_timeout stopped the
  // whole event loop while another process (the CLI) held the write lock.
  it('waits for another process’s write lock without stopping the event loop, reads going on meanwhile', async () => {
    const { handle, otherProcess: reader } = await open();
    await insertCounter(handle.db, 'seen', 1);
    const folder = reader.name;
    const otherProcess = new BetterSqlite3(folder, { timeout: 0 });
    cleanups.push(() => otherProcess.close());
    otherProcess.exec('BEGIN IMMEDIATE');
    otherProcess.prepare("insert into rate_limits (key, window_start, hits, last_hit_at, last_hit_id) values ('theirs', 0, 1, 0, '')").run();

    const settled: string[] = [];
    const write = insertCounter(handle.db, 'ours', 1).then(() => settled.push('write'));
    const transaction = handle.db
      .transaction()
      .execute((trx) => trx.insertInto('rate_limits').values({ key: 'in-transaction', window_start: 0, hits: 1, last_hit_at: 0, last_hit_id: '' }).execute())
      .then(() => settled.push('transaction'));
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The timer fired on time: nothing blocked the event loop for the busy timeout.
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await readCounter(handle.db, 'seen')).toEqual([{ hits: 1 }]);
    expect(await handle.db.selectFrom('rate_limits').select('key').where('key', '=', 'seen').execute()).toEqual([{ key: 'seen' }]);
    expect(settled).toEqual([]);

    otherProcess.exec('COMMIT');
    await Promise.all([write, transaction]);
    expect(settled.sort()).toEqual(['transaction', 'write']);
    expect(committedKeys(reader)).toEqual(['in-transaction', 'ours', 'seen', 'theirs']);
  });
});
