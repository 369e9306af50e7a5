import type { CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Runs a query compiled once (prepared-query.ts) straight on the driver, skipping Kysely's
 * executor: on SQLite a statement prepared once and run synchronously, on PostgreSQL a named
 * prepared statement, parsed and planned once per connection. Returns undefined when it cannot run
 * now, and the caller then queues through Kysely.
 */
export type DirectRunner = (query: CompiledQuery, name: string, options: RunOptions) => Promise<unknown[]> | undefined;

export interface RunOptions {
  durability: Durability;
  /**
   * An INSERT of its own values only, without RETURNING (an audit event, a queued mail, a new
   * link). Where statements cost round trips (PostgreSQL), the rows such an insert adds in one turn
   * of the event loop go into the table by one multi-row INSERT, committed together.
   */
  batchable: boolean;
}

/**
 * `relaxed` for counters that may lose their last fraction of a second in a database crash (rate
 * limits): on PostgreSQL they commit without waiting for the disk, so the one row every request
 * of a workspace counts on is not held for an fsync per request. Everything else is `durable`.
 */
export type Durability = 'durable' | 'relaxed';

const databases = new WeakMap<Kysely<Database>, { runner: DirectRunner; statementsCostRoundTrips: boolean }>();

/** Called by a dialect when it opens a database. */
export function registerDirectRunner(db: Kysely<Database>, runner: DirectRunner, capabilities: { statementsCostRoundTrips: boolean }): void {
  databases.set(db, { runner, statementsCostRoundTrips: capabilities.statementsCostRoundTrips });
}

/** The runner of a database opened by a dialect; none inside a transaction, whose queries must run on its connection. */
export function directRunnerOf(db: Kysely<Database>): DirectRunner | undefined {
  return db.isTransaction ? undefined : databases.get(db)?.runner;
}

/**
 * Whether the hot paths send the statements of one turn of the event loop together (tick-batch.ts)
 * on this database: where statements cost round trips (PostgreSQL), and outside a transaction.
 */
export function batchesStatements(db: Kysely<Database>): boolean {
  return !db.isTransaction && (databases.get(db)?.statementsCostRoundTrips ?? false);
}
