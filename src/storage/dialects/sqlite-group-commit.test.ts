import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../database.js';
import { prepareQuery } from '../prepared-query.js';

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
});
