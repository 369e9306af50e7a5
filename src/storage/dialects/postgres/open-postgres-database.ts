import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { OpenedDatabase } from '../../opened-database.js';
import type { Database } from '../../schema.js';
import type { DatabaseHandle, DialectCapabilities } from '../dialect.js';
import { InsertBatches } from './insert-batches.js';
import { postgresOperations } from './postgres-operations.js';
import { survivingLostConnections } from './surviving-lost-connections.js';

export const postgresCapabilities: DialectCapabilities = {
  name: 'postgres',
  autoIncrementType: 'bigserial',
  timestampType: 'bigint',
};

// bigint (int8) columns hold millisecond timestamps and counters, all well inside 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** An arbitrary, fixed key for `pg_advisory_lock`, shared by every Portico instance. */
const migrationLockKey = 7_231_905_118;

/** Connections for the rate-limit counters, beside `DATABASE_POOL_SIZE` for everything else. */
function relaxedPoolSize(poolSize: number): number {
  return Math.max(2, Math.ceil(poolSize / 2));
}

/**
 * The URL with `-c synchronous_commit=off` added to its `options` (pg lets the URL's `options`
 * override a separate setting, so settings such as `search_path` given there are kept beside it).
 */
function withSynchronousCommitOff(url: string): string {
  const parsed = new URL(url);
  const options = parsed.searchParams.get('options');
  parsed.searchParams.set('options', [options, '-c synchronous_commit=off'].filter(Boolean).join(' '));
  return parsed.toString();
}

/** A Kysely that runs everything on `client`, which its caller holds and releases. */
function kyselyOnOneConnection(client: pg.PoolClient): Kysely<Database> {
  const borrowed = { query: client.query.bind(client), release() {} } as unknown as pg.PoolClient;
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: { connect: async () => borrowed, end: async () => {} } }) });
}

/** Opens a `postgres://` URL through a connection pool. */
export function openPostgresDatabase(url: string, poolSize = 10): DatabaseHandle {
  const pool = survivingLostConnections(new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000 }));
  // Rate-limit counters commit without waiting for the disk (direct-runner.ts): a pool of their own,
  // so no other write shares the setting.
  const relaxedPool = survivingLostConnections(new pg.Pool({ connectionString: withSynchronousCommitOff(url), max: relaxedPoolSize(poolSize), connectionTimeoutMillis: 5000 }));
  const inserts = new InsertBatches(pool);
  const relaxedInserts = new InsertBatches(relaxedPool);
  const db = new OpenedDatabase(
    { dialect: new PostgresDialect({ pool }) },
    async (query, name, options) => {
      const relaxed = options.durability === 'relaxed';
      if (options.batchable) {
        await (relaxed ? relaxedInserts : inserts).insert(name, query.sql, query.parameters);
        return [];
      }
      return (await (relaxed ? relaxedPool : pool).query({ name, text: query.sql, values: query.parameters as unknown[] })).rows;
    },
    postgresOperations,
  );
  return {
    db,
    capabilities: postgresCapabilities,
    async withMigrationLock(work) {
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [migrationLockKey]);
        // The migrator runs on this very connection: with one connection in the pool (`portico
        // migrate`, or DATABASE_POOL_SIZE=1) it would otherwise wait for a second one while this
        // one holds the lock, until the pool gave up (issue 13 item 2).
        return await work(kyselyOnOneConnection(client));
      } finally {
        // An unlock that fails (the work left the connection in an aborted transaction) may leave
        // the lock held: the connection is then destroyed, which lets the lock go, not pooled.
        const unlockFailure = await client.query('select pg_advisory_unlock($1)', [migrationLockKey]).then(
          () => undefined,
          (error: Error) => error,
        );
        client.release(unlockFailure);
      }
    },
    async close() {
      await db.destroy();
      // Kysely ends the pool only if it used it; the migration lock may have been its only user.
      if (!pool.ended) await pool.end();
      await relaxedPool.end();
    },
  };
}
