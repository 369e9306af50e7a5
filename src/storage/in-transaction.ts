import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Runs `work` in the caller's transaction when `db` is one, else in a transaction of its own: a
 * domain function that needs all-or-nothing can also be part of a larger whole (the admin API
 * stores an idempotent request's answer in the transaction that queues its mail).
 */
export async function inTransaction<T>(db: Kysely<Database>, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db);
  return db.transaction().execute(work);
}
