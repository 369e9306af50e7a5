import type BetterSqlite3 from 'better-sqlite3';
import {
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';
import type { GroupCommit } from './group-commit.js';
import type { StatementCache } from './statement-cache.js';
import type { WriteLock } from './write-lock.js';

/** How Kysely wants a statement's outcome. */
function queryResultOf(statement: BetterSqlite3.Statement, parameters: readonly unknown[]): QueryResult<unknown> {
  if (statement.reader) return { rows: statement.all(parameters) };
  const { changes, lastInsertRowid } = statement.run(parameters);
  return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
}

/** A connection as Kysely sees it; `inTransaction` once the driver has begun a transaction on it. */
class SqliteWriteLockConnection implements DatabaseConnection {
  inTransaction = false;
  constructor(
    private readonly driver: SqliteWriteLockDriver,
    /** `held`: the connection of a migration, which already holds the write lock. */
    readonly mode: 'shared' | 'held',
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.execute(query, this.inTransaction || this.mode === 'held') as Promise<QueryResult<R>>;
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Portico does not stream SQLite queries');
  }
}

/**
 * Kysely's SQLite driver, reworked so that nothing waits for SQLite's write lock on the event loop:
 * a transaction begins with BEGIN IMMEDIATE, taken through WriteLock (so it also never fails
 * half-way with SQLITE_BUSY_SNAPSHOT when another process wrote since it read), and a statement
 * outside a transaction runs through the group commit. Unlike Kysely's own driver, it does not
 * make every query wait for a transaction that is waiting for the lock: reads go on.
 */
export class SqliteWriteLockDriver implements Driver {
  constructor(
    private readonly connection: BetterSqlite3.Database,
    private readonly statements: StatementCache,
    private readonly writes: GroupCommit,
    private readonly lock: WriteLock,
    private readonly mode: 'shared' | 'held',
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new SqliteWriteLockConnection(this, this.mode);
  }

  execute(query: CompiledQuery, holdsLock: boolean): Promise<QueryResult<unknown>> {
    const statement = this.statements.get(query.sql);
    if (holdsLock) {
      try {
        return Promise.resolve(queryResultOf(statement, query.parameters));
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    return this.writes.run(statement, query.parameters, queryResultOf);
  }

  async beginTransaction(connection: SqliteWriteLockConnection): Promise<void> {
    if (connection.mode === 'held') throw new Error('a migration runs in the transaction that holds the migration lock');
    await this.lock.take('transaction');
    connection.inTransaction = true;
  }

  async commitTransaction(connection: SqliteWriteLockConnection): Promise<void> {
    // A failed COMMIT leaves the transaction open; Kysely then rolls it back (below).
    this.connection.exec('COMMIT');
    this.#end(connection);
  }

  async rollbackTransaction(connection: SqliteWriteLockConnection): Promise<void> {
    try {
      if (this.connection.inTransaction) this.connection.exec('ROLLBACK');
    } finally {
      this.#end(connection);
    }
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    if (this.mode === 'held' || !this.connection.open) return;
    await this.writes.drain();
    this.connection.close();
  }

  #end(connection: SqliteWriteLockConnection): void {
    if (!connection.inTransaction) return;
    connection.inTransaction = false;
    this.lock.release();
  }
}

/** A Kysely SQLite dialect that runs everything through `driver`. */
export function sqliteDialect(driver: Driver): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}
