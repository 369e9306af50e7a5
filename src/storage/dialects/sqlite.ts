import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { registerDirectRunner } from '../direct-runner.js';
import type { Database } from '../schema.js';
import type { DatabaseHandle, DialectCapabilities } from './dialect.js';

export const sqliteCapabilities: DialectCapabilities = {
  name: 'sqlite',
  supportsSkipLocked: false,
  statementsCostRoundTrips: false,
  autoIncrementType: 'integer',
  timestampType: 'integer',
};

/** Opens `sqlite:<path>` (or `sqlite::memory:`), creating the folder, with the pragmas Portico relies on. */
export function openSqliteDatabase(url: string): DatabaseHandle {
  const path = url.slice('sqlite:'.length);
  if (path !== ':memory:') createFolder(dirname(path));
  const connection = new BetterSqlite3(path);
  connection.pragma('journal_mode = WAL');
  connection.pragma('synchronous = NORMAL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
  // Erased rows (sent mail holding a raw link) are overwritten with zeros, not left in free pages.
  connection.pragma('secure_delete = ON');

  const statements = new StatementCache(connection);
  const writes = new GroupCommit(connection);
  // Kysely's own queries (and its transactions) run outside any group: it is committed first.
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: forKysely(connection, statements, writes) }) });
  registerDirectRunner(db, (query) => writes.run(statements.get(query.sql), query.parameters as unknown[]), sqliteCapabilities);
  const dataVersion = connection.prepare('PRAGMA data_version').pluck();
  return {
    db,
    capabilities: sqliteCapabilities,
    // This connection's own commits leave data_version as it is; another process's change it. In a
    // group commit (BEGIN IMMEDIATE) nobody else can commit; in a transaction of Kysely's, the
    // snapshot may predate another process's commit, and the number would not show it.
    externalChangeVersion() {
      if (!connection.open || (connection.inTransaction && !writes.grouping)) return null;
      return dataVersion.get() as number;
    },
    // Kysely's SQLite migrator takes no lock of its own (it assumes one connection), so two
    // processes starting at once would both apply the same migration. BEGIN IMMEDIATE takes the
    // file's write lock for the whole run: the second waits, then finds it done.
    async withMigrationLock(work) {
      writes.commit();
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
      writes.commit();
      await db.destroy();
    },
  };
}

/**
 * `mkdir -p`, one level at a time. Node's `mkdirSync(…, { recursive: true })` never returns where
 * the kernel answers ENOENT for a folder whose parent exists (under /proc or /sys), and a mistyped
 * DATABASE_URL must fail with a reason, not hang.
 */
function createFolder(folder: string): void {
  if (existsSync(folder)) return;
  const parent = dirname(folder);
  if (parent !== folder) createFolder(parent);
  try {
    mkdirSync(folder);
  } catch (error) {
    // Another process starting at the same moment may have made it.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
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
 * Each distinct SQL text prepared once: preparing is a large share of the cost of a small query,
 * and Kysely asks better-sqlite3 to prepare every statement it runs.
 */
class StatementCache {
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  constructor(private readonly connection: BetterSqlite3.Database) {}

  get(text: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.connection.prepare(text);
      if (this.#statements.size >= 500) this.#statements.clear();
      this.#statements.set(text, statement);
    }
    return statement;
  }
}

/**
 * Group commit for the queries compiled once (the hot paths). A commit writes every page the
 * transaction touched to the WAL, and the hot paths' small writes touch the same pages (the tail of
 * the outbox, the counters of the rate limits): committing each on its own wrote the same pages
 * again and again, and cost more than the statements themselves. So the first write opens a
 * transaction, every statement run in the same turn of the event loop joins it, and it commits
 * at `setImmediate`. Each statement's promise settles only once its group is committed (or rolled
 * back), so nobody answers on the strength of a write that is not yet on disk.
 */
class GroupCommit {
  #group: { settle: ((error: Error | null) => void)[] } | null = null;
  constructor(private readonly connection: BetterSqlite3.Database) {}

  /** Whether the connection's open transaction, if any, is this group's. */
  get grouping(): boolean {
    return this.#group !== null;
  }

  /** Runs a statement now; undefined when a Kysely transaction holds the connection (the caller queues behind it). */
  run(statement: BetterSqlite3.Statement, parameters: unknown[]): Promise<unknown[]> | undefined {
    if (!this.connection.open || (this.connection.inTransaction && !this.#group)) return undefined;
    if (!this.#group && statement.readonly) {
      try {
        return Promise.resolve(statement.all(parameters));
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    let group: { settle: ((error: Error | null) => void)[] } | null = this.#group;
    let rows: unknown[];
    try {
      group ??= this.#open();
      rows = statement.reader ? statement.all(parameters) : (statement.run(parameters), []);
    } catch (error) {
      // Most failures undo only the statement; some (a full disk) undo the whole transaction.
      if (group && !this.connection.inTransaction) this.#end(group, error as Error);
      return Promise.reject(error as Error);
    }
    return new Promise((resolve, reject) => group!.settle.push((error) => (error ? reject(error) : resolve(rows))));
  }

  /** Commits the open group now: before Kysely runs anything, and before closing. */
  commit(): void {
    const group = this.#group;
    if (!group) return;
    try {
      this.connection.exec('COMMIT');
      this.#end(group, null);
    } catch (error) {
      if (this.connection.inTransaction) this.connection.exec('ROLLBACK');
      this.#end(group, error as Error);
    }
  }

  #open() {
    // IMMEDIATE takes the write lock now: a group that first reads could otherwise find the
    // database changed by another process when it comes to write (SQLITE_BUSY_SNAPSHOT).
    this.connection.exec('BEGIN IMMEDIATE');
    const group = { settle: [] as ((error: Error | null) => void)[] };
    this.#group = group;
    setImmediate(() => {
      if (this.#group === group) this.commit();
    });
    return group;
  }

  #end(group: { settle: ((error: Error | null) => void)[] }, error: Error | null): void {
    if (this.#group === group) this.#group = null;
    for (const settle of group.settle) settle(error);
  }
}

/** The connection as Kysely sees it: statements from the cache, and any open group committed before Kysely's query runs. */
function forKysely(connection: BetterSqlite3.Database, statements: StatementCache, writes: GroupCommit): BetterSqlite3.Database {
  return new Proxy(connection, {
    get(target, property, receiver) {
      if (property === 'prepare') {
        return (text: string) => {
          writes.commit();
          return statements.get(text);
        };
      }
      if (property === 'close') {
        return () => {
          writes.commit();
          target.close();
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
