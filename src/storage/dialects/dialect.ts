import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * What the migrations need to know of the SQL engine, as capabilities rather than
 * `if (dialect === …)` (after Kysely's own dialect folders). Everything else that differs is an
 * operation of the dialect's (operations/storage-operations.ts) or its driver's business.
 */
export interface DialectCapabilities {
  readonly name: 'sqlite' | 'postgres';
  /** Column type of an auto-incrementing integer key, for migrations. */
  readonly autoIncrementType: 'integer' | 'bigserial';
  /** Column type of a millisecond timestamp (SQLite integers are 64-bit; PostgreSQL needs bigint). */
  readonly timestampType: 'integer' | 'bigint';
}

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly capabilities: DialectCapabilities;
  /**
   * Where this process's connection can tell cheaply whether another connection has committed
   * since it last asked (SQLite's `PRAGMA data_version`): a number that changes when one has, read
   * anew at each call; null while this process's own transaction hides such news. Absent where
   * other instances write through connections of their own (PostgreSQL): nothing can be cached
   * there without trusting it for a time (sessions/session-cache.ts).
   */
  readonly externalChangeVersion?: () => number | null;
  /**
   * Runs `work` while holding a database-wide lock, so two instances never migrate at once. `work`
   * gets a Kysely bound to the connection that holds the lock and must run its queries there: the
   * pool may have no other connection to give, and on SQLite the lock is the connection's own.
   */
  withMigrationLock<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
