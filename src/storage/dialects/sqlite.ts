import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { registerDirectRunner } from '../direct-runner.js';
import type { Database } from '../schema.js';
import type { DatabaseHandle, DialectCapabilities } from './dialect.js';

export const sqliteCapabilities: DialectCapabilities = {
  name: 'sqlite',
  supportsSkipLocked: false,
  autoIncrementType: 'integer',
  timestampType: 'integer',
};

/** Opens `sqlite:<path>` (or `sqlite::memory:`), creating the folder, with the pragmas Portico relies on. */
export function openSqliteDatabase(url: string): DatabaseHandle {
  const path = url.slice('sqlite:'.length);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const connection = new BetterSqlite3(path);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
  // Erased rows (sent mail holding a raw link) are overwritten with zeros, not left in free pages.
  connection.pragma('secure_delete = ON');

  const cachedConnection = withStatementCache(connection);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: cachedConnection }) });
  registerDirectRunner(db, (query) => {
    // A transaction is open on the only connection: this query must wait its turn in Kysely's queue.
    if (!connection.open || connection.inTransaction) return undefined;
    try {
      const statement = cachedConnection.prepare(query.sql);
      const parameters = query.parameters as unknown[];
      if (statement.reader) return Promise.resolve(statement.all(parameters));
      statement.run(parameters);
      return Promise.resolve([]);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  });
  return {
    db,
    capabilities: sqliteCapabilities,
    // Kysely's SQLite migrator takes no lock of its own (it assumes one connection), so two
    // processes starting at once would both apply the same migration. BEGIN IMMEDIATE takes the
    // file's write lock for the whole run: the second waits, then finds it done.
    async withMigrationLock(work) {
      await beginImmediateWithoutBlocking(connection, 30_000);
      try {
        const result = await work();
        connection.exec('COMMIT');
        return result;
      } catch (error) {
        if (connection.inTransaction) connection.exec('ROLLBACK');
        throw error;
      }
    },
    async close() {
      await db.destroy();
    },
  };
}

/**
 * BEGIN IMMEDIATE, retried every 20 ms while another connection holds the write lock. better-sqlite3
 * is synchronous: waiting through busy_timeout would block the event loop, and with it a holder in
 * this same process, until the timeout.
 */
async function beginImmediateWithoutBlocking(connection: BetterSqlite3.Database, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  connection.pragma('busy_timeout = 0');
  try {
    for (;;) {
      try {
        connection.exec('BEGIN IMMEDIATE');
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  } finally {
    connection.pragma('busy_timeout = 5000');
  }
}

/**
 * Kysely asks better-sqlite3 to prepare every statement it runs. Preparing is a large share of the
 * cost of a small query, so each distinct SQL text is prepared once and the statement reused.
 */
function withStatementCache(connection: BetterSqlite3.Database): BetterSqlite3.Database {
  const statements = new Map<string, BetterSqlite3.Statement>();
  const maxCachedStatements = 500;
  return new Proxy(connection, {
    get(target, property, receiver) {
      if (property === 'prepare') {
        return (text: string) => {
          let statement = statements.get(text);
          if (!statement) {
            statement = target.prepare(text);
            if (statements.size >= maxCachedStatements) statements.clear();
            statements.set(text, statement);
          }
          return statement;
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
