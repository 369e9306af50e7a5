import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialects, workspaceRow } from '../../test/helpers/databases.js';
import { openDatabase, type DatabaseHandle } from './database.js';
import { prepareQuery } from './prepared-query.js';

const selectWorkspaceSlug = prepareQuery((db, host: string, minimumTtl: number) =>
  db.selectFrom('workspaces').select('slug').where('host', '=', host).where('magic_link_ttl_ms', '>=', minimumTtl),
);

describe.each(testDialects)('a query compiled once, on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function databaseWithWorkspaces(): Promise<DatabaseHandle> {
    const database = await createTestDatabase(dialect);
    cleanups.push(() => database.drop());
    const handle = await openDatabase(database.url);
    cleanups.push(() => handle.close());
    await handle.db.insertInto('workspaces').values([workspaceRow('alpha', 60_000), workspaceRow('beta', 900_000)]).execute();
    return handle;
  }

  it('runs with each call’s own arguments, in and out of transactions', async () => {
    const { db } = await databaseWithWorkspaces();
    expect(await selectWorkspaceSlug(db, 'alpha.test', 0)).toEqual([{ slug: 'alpha' }]);
    expect(await selectWorkspaceSlug(db, 'beta.test', 0)).toEqual([{ slug: 'beta' }]);
    expect(await selectWorkspaceSlug(db, 'alpha.test', 120_000)).toEqual([]);
    expect(await selectWorkspaceSlug(db, 'beta.test', 120_000)).toEqual([{ slug: 'beta' }]);
    await db.transaction().execute(async (trx) => {
      expect(await selectWorkspaceSlug(trx, 'beta.test', 900_000)).toEqual([{ slug: 'beta' }]);
    });
  });

  it('refuses a query that computes with an argument instead of passing it as a value', async () => {
    const { db } = await databaseWithWorkspaces();
    const broken = prepareQuery((inner, host: string) => inner.selectFrom('workspaces').select('slug').where('host', '=', `${host}.test`));
    await expect(broken(db, 'alpha')).rejects.toThrow(/every argument must appear as a value/);
  });
});

describe('a relaxed query on PostgreSQL', () => {
  const setting = (durability: 'durable' | 'relaxed') =>
    prepareQuery((db, name: string) => db.selectNoFrom(sql<string>`current_setting(${name})`.as('setting')), { durability });

  async function withDatabase(urlOf: (url: string) => string, check: (handle: DatabaseHandle) => Promise<void>) {
    const database = await createTestDatabase('postgres');
    const handle = await openDatabase(urlOf(database.url));
    try {
      await check(handle);
    } finally {
      await handle.close();
      await database.drop();
    }
  }

  it('commits without waiting for the disk (rate-limit counters), while every other query does wait', async () => {
    await withDatabase((url) => url, async ({ db }) => {
      expect(await setting('relaxed')(db, 'synchronous_commit')).toEqual([{ setting: 'off' }]);
      expect(await setting('durable')(db, 'synchronous_commit')).toEqual([{ setting: 'on' }]);
    });
  });

  it('keeps the options a DATABASE_URL sets for every connection', async () => {
    await withDatabase((url) => `${url}?options=${encodeURIComponent('-c application_name=portico_here')}`, async ({ db }) => {
      expect(await setting('relaxed')(db, 'application_name')).toEqual([{ setting: 'portico_here' }]);
      expect(await setting('relaxed')(db, 'synchronous_commit')).toEqual([{ setting: 'off' }]);
      expect(await setting('durable')(db, 'application_name')).toEqual([{ setting: 'portico_here' }]);
    });
  });
});
