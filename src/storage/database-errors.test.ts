import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './database-errors.js';

describe('isDatabaseUnavailable', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  // Review of issue 13 item 6: only the plain SQLITE_BUSY counted, so SQLite's extended busy codes
  // reached the client as a 500 instead of a 503.
  it('counts SQLite’s extended busy codes, as SQLite reports them, as "database unavailable"', () => {
    const folder = mkdtempSync(join(tmpdir(), 'portico-errors-'));
    cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
    const path = join(folder, 'busy.sqlite');
    const first = new BetterSqlite3(path, { timeout: 0 });
    cleanups.push(() => first.close());
    first.pragma('journal_mode = WAL');
    first.exec('create table t (x)');
    const second = new BetterSqlite3(path, { timeout: 0 });
    cleanups.push(() => second.close());
    // A read transaction whose snapshot another connection's commit has made stale cannot write.
    second.exec('begin');
    second.prepare('select * from t').all();
    first.exec('insert into t values (1)');
    let error: unknown = null;
    try {
      second.exec('insert into t values (2)');
    } catch (caught) {
      error = caught;
    }
    second.exec('rollback');
    expect((error as { code?: string }).code).toBe('SQLITE_BUSY_SNAPSHOT');
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it('counts the other extended codes of a busy or unreadable file, and not a constraint', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_RECOVERY', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_IOERR', 'SQLITE_IOERR_SHORT_READ', 'SQLITE_CANTOPEN', 'SQLITE_CANTOPEN_ISDIR']) {
      expect(isDatabaseUnavailable(new BetterSqlite3.SqliteError('', code)), code).toBe(true);
    }
    for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_ERROR', 'SQLITE_BUSYNESS']) {
      expect(isDatabaseUnavailable(new BetterSqlite3.SqliteError('', code)), code).toBe(false);
    }
  });
});
