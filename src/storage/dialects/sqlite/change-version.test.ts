import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../database.js';
import { prepareQuery } from '../../prepared-query.js';

const insertCounter = prepareQuery((db, key: string) => db.insertInto('rate_limits').values({ key, window_start: 0, hits: 1, last_hit_at: 0, last_hit_id: '' }));

// What the session cache trusts to hear of sessions ended by another process (issue 13 item 1).
describe("SQLite's external change version", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function open(): Promise<{ handle: DatabaseHandle; otherProcess: BetterSqlite3.Database; version: () => number | null }> {
    const folder = mkdtempSync(join(tmpdir(), 'portico-version-'));
    cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
    const handle = await openDatabase(`sqlite:${join(folder, 'portico.sqlite')}`);
    cleanups.push(() => handle.close());
    // A second connection stands in for another process (the CLI) writing to the same file.
    const otherProcess = new BetterSqlite3(join(folder, 'portico.sqlite'));
    cleanups.push(() => otherProcess.close());
    return { handle, otherProcess, version: () => handle.externalChangeVersion!() };
  }

  it("changes at each commit of another connection, and not for this connection's own writes", async () => {
    const { handle, otherProcess, version } = await open();
    const before = version();
    expect(before).toEqual(expect.any(Number));
    await insertCounter(handle.db, 'own-grouped');
    await handle.db.insertInto('rate_limits').values({ key: 'own-kysely', window_start: 0, hits: 1, last_hit_at: 0, last_hit_id: '' }).execute();
    expect(version()).toBe(before);
    otherProcess.prepare("insert into rate_limits (key, window_start, hits, last_hit_at, last_hit_id) values ('other', 0, 1, 0, '')").run();
    const after = version();
    expect(after).not.toBe(before);
    expect(version()).toBe(after);
  });

  it('tells nothing inside a transaction of its own, whose snapshot may hide another commit', async () => {
    const { handle, version } = await open();
    await handle.db.transaction().execute(async (trx) => {
      await trx.selectFrom('rate_limits').select('key').execute();
      expect(version()).toBeNull();
    });
    expect(version()).toEqual(expect.any(Number));
  });

  it('still tells within a group commit, which holds the write lock', async () => {
    const { handle, otherProcess, version } = await open();
    otherProcess.prepare("insert into rate_limits (key, window_start, hits, last_hit_at, last_hit_id) values ('other', 0, 1, 0, '')").run();
    const pending = insertCounter(handle.db, 'grouped');
    expect(version()).toEqual(expect.any(Number));
    await pending;
  });

  it('is absent on PostgreSQL, where other instances write through connections of their own', async () => {
    const { openPostgresDatabase } = await import('../postgres/open-postgres-database.js');
    const handle = openPostgresDatabase('postgres://nobody@127.0.0.1:1/none');
    cleanups.push(() => handle.close());
    expect(handle.externalChangeVersion).toBeUndefined();
  });
});
