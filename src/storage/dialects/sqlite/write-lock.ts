import BetterSqlite3 from 'better-sqlite3';

/** Whether `error` is SQLite's SQLITE_BUSY or one of its extended codes (SQLITE_BUSY_SNAPSHOT, …). */
export const isBusy = (error: unknown) => (error as { code?: string }).code?.startsWith('SQLITE_BUSY') ?? false;
/** Settles after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How often a connection waiting for the write lock tries again: often enough to catch the gap another process leaves. */
export const lockPollMs = 2;

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
export class WriteLock {
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
