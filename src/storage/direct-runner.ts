import type { CompiledQuery, Kysely } from 'kysely';
import { OpenedDatabase } from './opened-database.js';
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
   * link, a new session). Where statements cost round trips (PostgreSQL), the rows such an insert
   * adds in one turn of the event loop go into the table by one multi-row INSERT, committed together.
   */
  batchable: boolean;
}

/**
 * `relaxed` for counters that may lose their last fraction of a second in a database crash (rate
 * limits): on PostgreSQL they commit without waiting for the disk, so the one row every request
 * of a workspace counts on is not held for an fsync per request. Everything else is `durable`.
 */
export type Durability = 'durable' | 'relaxed';

/** The runner of a database a dialect opened; none inside a transaction, whose queries must run on its connection. */
export function directRunnerOf(db: Kysely<Database>): DirectRunner | undefined {
  return db instanceof OpenedDatabase ? db.directRunner : undefined;
}
