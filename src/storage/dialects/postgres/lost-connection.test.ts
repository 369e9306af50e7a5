import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresAdminUrl } from '../../../../test/helpers/databases.js';
import { isDatabaseUnavailable } from '../../database-errors.js';
import { openDatabase } from '../../database.js';

describe('a PostgreSQL connection lost while lent out', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  // Found with issue 13 (the scale-out test "PostgreSQL stopped and started again under load" failed
  // now and then): a connection that died between two statements of a transaction emitted `error`
  // with nobody listening, an uncaught exception that took the whole server down.
  it('fails the transaction that was using it, as unavailable, and the pool goes on with a new one', async () => {
    const database = await createTestDatabase('postgres');
    cleanups.push(() => database.drop());
    const handle = await openDatabase(database.url);
    cleanups.push(() => handle.close());

    let backendPid!: number;
    let insideTransaction!: () => void;
    const inside = new Promise<void>((resolve) => (insideTransaction = resolve));
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    const transaction = handle.db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
      backendPid = rows[0]!.pid;
      insideTransaction();
      await resumed;
      await trx.selectFrom('workspaces').select('id').execute();
    });
    const outcome = transaction.then(() => null, (error: unknown) => error);
    await inside;

    // What a stop or restart does to every backend: PostgreSQL ends it with 57P01.
    const admin = new pg.Client({ connectionString: postgresAdminUrl });
    await admin.connect();
    try {
      await admin.query('select pg_terminate_backend($1)', [backendPid]);
    } finally {
      await admin.end();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    resume();

    const error = await outcome;
    expect(error).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(await handle.db.selectFrom('workspaces').select('id').execute()).toEqual([]);
  });
});
