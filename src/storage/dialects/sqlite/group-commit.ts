import type BetterSqlite3 from 'better-sqlite3';
import { isBusy, lockPollMs, sleep, type WriteLock } from './write-lock.js';

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
export class GroupCommit {
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
