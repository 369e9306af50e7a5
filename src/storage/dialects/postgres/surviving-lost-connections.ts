import type pg from 'pg';

/**
 * A connection lost (the database stopped or restarted) must fail what was using it, never the
 * process. pg emits `error` on the client, and the pool listens only while the client is idle in it:
 * a client lent out between two statements of a transaction had no listener, and its `error` was
 * an uncaught exception that took the whole server down. The statement or transaction using it
 * still fails (503), and the pool drops the client when it comes back, since it is no longer usable.
 */
export function survivingLostConnections(pool: pg.Pool): pg.Pool {
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}
