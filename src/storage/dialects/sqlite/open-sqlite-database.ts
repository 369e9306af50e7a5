import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely } from 'kysely';
import { OpenedDatabase } from '../../opened-database.js';
import { oneAtATimeOperations } from '../../operations/one-at-a-time.js';
import type { Database } from '../../schema.js';
import type { DatabaseHandle, DialectCapabilities } from '../dialect.js';
import { createFolder } from './create-folder.js';
import { GroupCommit } from './group-commit.js';
import { StatementCache } from './statement-cache.js';
import { isBusy, WriteLock } from './write-lock.js';
import { SqliteWriteLockDriver, sqliteDialect } from './write-lock-driver.js';

export const sqliteCapabilities: DialectCapabilities = {
  name: 'sqlite',
  autoIncrementType: 'integer',
  timestampType: 'integer',
};

/**
 * Longest a statement or transaction waits for another connection (another process: the CLI
 * beside the server) to release the write lock before it fails with SQLITE_BUSY. It waits without
 * blocking the event loop (WriteLock), so a long wait costs only the writes that wait.
 */
const writeLockWaitMs = 10_000;

export interface SqliteOptions {
  /** Tests only: a shorter wait than writeLockWaitMs, so a test of the timeout does not take 10 s. */
  writeLockWaitMs?: number;
  /** Tests only: sees the connection once it is set up (to register a function that fails on cue). */
  configureConnection?: (connection: BetterSqlite3.Database) => void;
}

/** Opens `sqlite:<path>` (or `sqlite::memory:`), creating the folder, with the pragmas Portico relies on. */
export function openSqliteDatabase(url: string, options: SqliteOptions = {}): DatabaseHandle {
  const path = url.slice('sqlite:'.length);
  if (path !== ':memory:') createFolder(dirname(path));
  const connection = new BetterSqlite3(path);
  // Switching a new file to WAL needs the file to itself for a moment: waited for here, at start-up.
  connection.pragma('busy_timeout = 5000');
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  connection.pragma('foreign_keys = ON');
  // Erased rows (sent mail holding a raw link) are overwritten with zeros, not left in free pages.
  connection.pragma('secure_delete = ON');
  // better-sqlite3 is synchronous: SQLite's own busy wait would stop the whole event loop (every
  // request, /healthz included) while another process holds the write lock. A statement that
  // finds the lock taken fails at once instead, and WriteLock waits for it asynchronously
  // (issue 13 item 6). Reads need no lock in WAL mode.
  connection.pragma('busy_timeout = 0');
  options.configureConnection?.(connection);

  const statements = new StatementCache(connection);
  const lock = new WriteLock(connection, options.writeLockWaitMs ?? writeLockWaitMs);
  const writes = new GroupCommit(connection, lock);
  const db = new OpenedDatabase(
    { dialect: sqliteDialect(new SqliteWriteLockDriver(connection, statements, writes, lock, 'shared')) },
    (query) => writes.run(statements.get(query.sql), query.parameters as unknown[], rowsOf),
    // SQLite's statements are in-process calls that share a group commit: nothing to gain from more.
    oneAtATimeOperations,
  );
  const dataVersion = connection.prepare('PRAGMA data_version').pluck();
  return {
    db,
    capabilities: sqliteCapabilities,
    // This connection's own commits leave data_version as it is; another process's change it. In a
    // group commit (BEGIN IMMEDIATE) nobody else can commit; in a transaction of Kysely's, the
    // snapshot may predate another process's commit, and the number would not show it.
    externalChangeVersion() {
      if (!connection.open || (connection.inTransaction && lock.holder !== 'group')) return null;
      try {
        return dataVersion.get() as number;
      } catch (error) {
        // Busy (another connection's recovery): cannot tell, so the session cache reads the database.
        if (isBusy(error)) return null;
        throw error;
      }
    },
    // Kysely's SQLite migrator takes no lock of its own (it assumes one connection), so two
    // processes starting at once would both apply the same migration. BEGIN IMMEDIATE takes the
    // file's write lock for the whole run: the second waits, then finds it done.
    async withMigrationLock(work) {
      await lock.take('transaction', 30_000);
      try {
        const result = await work(new Kysely<Database>({ dialect: sqliteDialect(new SqliteWriteLockDriver(connection, statements, writes, lock, 'held')) }));
        connection.exec('COMMIT');
        return result;
      } catch (error) {
        if (connection.inTransaction) connection.exec('ROLLBACK');
        throw error;
      } finally {
        lock.release();
      }
    },
    async close() {
      await db.destroy();
    },
  };
}

/** How the direct runner wants a statement's outcome: its rows. */
function rowsOf(statement: BetterSqlite3.Statement, parameters: unknown[]): unknown[] {
  return statement.reader ? statement.all(parameters) : (statement.run(parameters), []);
}
