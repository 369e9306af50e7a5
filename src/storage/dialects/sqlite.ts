import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';
import { OpenedDatabase } from '../opened-database.js';
import { oneAtATimeOperations } from '../operations/one-at-a-time.js';
import type { Database } from '../schema.js';
import type { DatabaseHandle, DialectCapabilities } from './dialect.js';

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

const isBusy = (error: unknown) => (error as { code?: string }).code?.startsWith('SQLITE_BUSY') ?? false;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How often a connection waiting for the write lock tries again: often enough to catch the gap another process leaves. */
const lockPollMs = 2;

/** The error of a wait for the write lock that ran out: SQLITE_BUSY, which the server answers with 503. */
const lockWaitRanOut = () => new BetterSqlite3.SqliteError('database is locked', 'SQLITE_BUSY');

/**
 * BEGIN IMMEDIATE, tried again every few milliseconds while another connection holds the write
 * lock, until `deadline` (performance.now()). better-sqlite3 is synchronous: waiting through
 * busy_timeout would block the event loop.
 */
async function beginImmediateWithoutBlocking(connection: BetterSqlite3.Database, deadline: number): Promise<void> {
  for (;;) {
    try {
      connection.exec('BEGIN IMMEDIATE');
      return;
    } catch (error) {
      if (!isBusy(error) || performance.now() > deadline) throw error;
      await sleep(lockPollMs);
    }
  }
}

type LockHolder = 'group' | 'transaction';

/**
 * The connection's write lock (BEGIN IMMEDIATE … COMMIT): one holder at a time in this process
 * (a group commit, a Kysely transaction, a migration), first come first served, and waited for
 * without blocking the event loop while another process holds it.
 */
class WriteLock {
  #holder: LockHolder | null = null;
  #turnTaken = false;
  #waiters: (() => void)[] = [];
  #transactionEnds: (() => void)[] = [];
  #takenAt = 0;
  #lastTransaction = { endedAt: 0, heldMs: 0 };

  constructor(
    private readonly connection: BetterSqlite3.Database,
    /** Longest a taker waits, its place in this process's queue included. */
    readonly waitMs: number,
  ) {}

  /** What holds the lock now (null also while a taker waits for another process). */
  get holder(): LockHolder | null {
    return this.#holder;
  }

  /** Takes the lock at once if nobody here holds or awaits it and no other connection holds it. */
  tryTake(holder: LockHolder): boolean {
    if (this.#turnTaken) return false;
    try {
      this.connection.exec('BEGIN IMMEDIATE');
    } catch (error) {
      if (isBusy(error)) return false;
      throw error;
    }
    this.#turnTaken = true;
    this.#hold(holder);
    return true;
  }

  /**
   * Takes the lock once the holders before this one here and any other process have let go. The
   * wait is counted from this call, the time spent queued here included: waits queued behind each
   * other fail together after `timeoutMs`, not one after another at 10, 20, 30 s.
   */
  async take(holder: LockHolder, timeoutMs = this.waitMs): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    if (this.#turnTaken) await this.#awaitTurn(deadline);
    else this.#turnTaken = true;
    try {
      if (holder === 'transaction') await this.#stepAside();
      await beginImmediateWithoutBlocking(this.connection, deadline);
    } catch (error) {
      this.#passTurn();
      throw error;
    }
    this.#hold(holder);
  }

  /** Called once the holder has committed or rolled back. */
  release(): void {
    if (this.#holder === 'transaction') {
      const now = performance.now();
      this.#lastTransaction = { endedAt: now, heldMs: now - this.#takenAt };
      for (const resolve of this.#transactionEnds.splice(0)) resolve();
    }
    this.#holder = null;
    this.#passTurn();
  }

  /** Settles when the transaction holding the lock here has ended. */
  transactionEnded(): Promise<void> {
    return new Promise((resolve) => this.#transactionEnds.push(resolve));
  }

  /** Waits in the queue; a waiter whose deadline passes first leaves it, the others keeping their order. */
  #awaitTurn(deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(lockWaitRanOut());
      }, deadline - performance.now());
      this.#waiters.push(waiter);
    });
  }

  #hold(holder: LockHolder): void {
    this.#holder = holder;
    this.#takenAt = performance.now();
  }

  #passTurn(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#turnTaken = false;
  }

  /**
   * SQLite's write lock has no queue: a waiting connection polls, and a connection that commits and
   * begins again at once leaves no gap to find. After a long transaction (an import's chunk), this
   * connection stands aside about as long before taking the lock again, so another process waiting
   * for it (the server, beside `portico client import`) gets its turn. Short transactions, which
   * are all the server runs, never wait here.
   */
  async #stepAside(): Promise<void> {
    const { endedAt, heldMs } = this.#lastTransaction;
    if (heldMs < 2) return;
    const wait = endedAt + Math.min(Math.max(heldMs, 5), 50) - performance.now();
    if (wait > 0) await sleep(wait);
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

/** How the direct runner wants a statement's outcome: its rows. */
function rowsOf(statement: BetterSqlite3.Statement, parameters: unknown[]): unknown[] {
  return statement.reader ? statement.all(parameters) : (statement.run(parameters), []);
}

/** How Kysely wants a statement's outcome. */
function queryResultOf(statement: BetterSqlite3.Statement, parameters: readonly unknown[]): QueryResult<unknown> {
  if (statement.reader) return { rows: statement.all(parameters) };
  const { changes, lastInsertRowid } = statement.run(parameters);
  return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
}

interface Group {
  /** False while the group waits for the write lock, its statements queued. */
  open: boolean;
  settle: ((error: Error | null) => void)[];
  queued: { run: () => void; fail: (error: Error) => void }[];
  /** Settles once the group holds the lock (or could not get it). */
  opened: Promise<void>;
}

/**
 * Group commit for every statement run outside a transaction (the hot paths' queries compiled
 * once, and Kysely's own). A commit writes every page the transaction touched to the WAL, and
 * the hot paths' small writes touch the same pages (the tail of the outbox, the counters of the
 * rate limits): committing each on its own wrote the same pages again and again, and cost more
 * than the statements themselves. So the first write opens a transaction, every statement run in
 * the same turn of the event loop joins it, and it commits at `setImmediate`. Each statement's
 * promise settles only once its group is committed (or rolled back), so nobody answers on the
 * strength of a write that is not yet on disk.
 * While another process holds the write lock, writes queue in a group that opens once the lock is
 * had; reads go on meanwhile, outside it.
 */
class GroupCommit {
  #group: Group | null = null;
  constructor(
    private readonly connection: BetterSqlite3.Database,
    private readonly lock: WriteLock,
  ) {}

  /**
   * Runs a statement outside any transaction of this process, in the current group if it writes.
   * `readDeadline`: set when a read that found the file busy is tried again.
   */
  run<R>(statement: BetterSqlite3.Statement, parameters: readonly unknown[], outcome: (statement: BetterSqlite3.Statement, parameters: unknown[]) => R, readDeadline?: number): Promise<R> {
    const execute = () => outcome(statement, parameters as unknown[]);
    // A transaction of this process holds the connection: what runs now would run inside it.
    if (this.lock.holder === 'transaction') return this.lock.transactionEnded().then(() => this.run(statement, parameters, outcome, readDeadline));
    const group = this.#group;
    if (group?.open) return this.#runInGroup(group, execute);
    // Reads need no lock in WAL mode: they go on while writes wait for another process.
    if (statement.readonly) {
      try {
        return Promise.resolve(execute());
      } catch (error) {
        // Busy (rare in WAL mode: another connection's recovery): tried again a little later from
        // the top, since a transaction or a group of this process may have taken the connection
        // meanwhile, and the read must then wait for it or join it, not run inside it.
        const deadline = readDeadline ?? performance.now() + this.lock.waitMs;
        if (!isBusy(error) || performance.now() > deadline) return Promise.reject(error as Error);
        return sleep(lockPollMs).then(() => this.run(statement, parameters, outcome, deadline));
      }
    }
    if (group) return this.#queue(group, execute);
    // IMMEDIATE takes the write lock now: a group that first reads could otherwise find the
    // database changed by another process when it comes to write (SQLITE_BUSY_SNAPSHOT).
    if (this.lock.tryTake('group')) return this.#runInGroup(this.#openGroup(true), execute);
    return this.#queue(this.#openGroup(false), execute);
  }

  #queue<R>(group: Group, execute: () => R): Promise<R> {
    return new Promise((resolve, reject) => group.queued.push({ run: () => this.#runInGroup(group, execute).then(resolve, reject), fail: reject }));
  }

  /** Commits the open group, or waits for a waiting one and commits it: before closing. */
  async drain(): Promise<void> {
    while (this.#group) {
      const group = this.#group;
      if (!group.open) await group.opened;
      else this.#commit(group);
    }
  }

  #openGroup(holdsLock: boolean): Group {
    let opened!: () => void;
    const group: Group = { open: holdsLock, settle: [], queued: [], opened: new Promise((resolve) => (opened = resolve)) };
    this.#group = group;
    const scheduleCommit = () =>
      setImmediate(() => {
        if (this.#group === group) this.#commit(group);
      });
    if (holdsLock) {
      opened();
      scheduleCommit();
    } else {
      this.lock.take('group').then(
        () => {
          group.open = true;
          opened();
          scheduleCommit();
          for (const queued of group.queued.splice(0)) queued.run();
        },
        (error: Error) => {
          // The wait ran out: every write of the group fails with SQLITE_BUSY, "database unavailable".
          if (this.#group === group) this.#group = null;
          opened();
          for (const queued of group.queued.splice(0)) queued.fail(error);
        },
      );
    }
    return group;
  }

  #runInGroup<R>(group: Group, execute: () => R): Promise<R> {
    // An earlier statement of the group failed so badly that SQLite undid the whole transaction.
    if (this.#group !== group || !this.connection.inTransaction) return Promise.reject(new Error('the write group ended before this statement ran'));
    let result: R;
    try {
      result = execute();
    } catch (error) {
      // Most failures undo only the statement; some (a full disk) undo the whole transaction.
      if (!this.connection.inTransaction) this.#finish(group, error as Error);
      return Promise.reject(error as Error);
    }
    return new Promise((resolve, reject) => group.settle.push((error) => (error ? reject(error) : resolve(result))));
  }

  #commit(group: Group): void {
    try {
      this.connection.exec('COMMIT');
      this.#finish(group, null);
    } catch (error) {
      if (this.connection.inTransaction) this.connection.exec('ROLLBACK');
      this.#finish(group, error as Error);
    }
  }

  /** The group's transaction is over (committed or undone): settle its statements and let the lock go. */
  #finish(group: Group, error: Error | null): void {
    if (this.#group === group) this.#group = null;
    this.lock.release();
    this.#end(group, error);
  }

  #end(group: Group, error: Error | null): void {
    for (const settle of group.settle.splice(0)) settle(error);
  }
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
class SqliteWriteLockDriver implements Driver {
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

function sqliteDialect(driver: Driver): Dialect {
  return {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}
