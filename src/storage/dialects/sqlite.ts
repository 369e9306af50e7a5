import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
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

  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(connection) }),
  });
  return {
    db,
    capabilities: sqliteCapabilities,
    // SQLite admits one writer at a time, and Kysely migrates inside a transaction: a second process
    // waits on busy_timeout and then finds the work done.
    async withMigrationLock(work) {
      return work();
    },
    async close() {
      await db.destroy();
    },
  };
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
