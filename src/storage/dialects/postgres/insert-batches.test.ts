import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseWithWorkspace } from '../../../../test/helpers/databases.js';
import { listAuditEvents, recordAuditEvents } from '../../../events/audit-events.js';
import type { DatabaseHandle } from '../../database.js';
import { repeatValues } from './insert-batches.js';

describe('repeatValues', () => {
  it('repeats the rows of an insert, numbering the parameters on', () => {
    expect(repeatValues('insert into "t" ("a", "b") values ($1, $2)', 3)).toBe('insert into "t" ("a", "b") values ($1, $2), ($3, $4), ($5, $6)');
    expect(repeatValues('insert into "t" ("a") values ($1), ($2)', 2)).toBe('insert into "t" ("a") values ($1), ($2), ($3), ($4)');
  });

  it('refuses any statement it cannot repeat safely', () => {
    expect(() => repeatValues('insert into "t" ("a") values ($1) returning "id"', 2)).toThrow('not a batchable insert');
    expect(() => repeatValues('insert into "t" ("a", "b") values ($2, $1)', 2)).toThrow('not a batchable insert');
    expect(() => repeatValues('update "t" set "a" = $1', 2)).toThrow('not a batchable insert');
  });
});

describe('inserts batched on postgres', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function database(): Promise<DatabaseHandle> {
    const { handle, cleanup } = await openTestDatabaseWithWorkspace('postgres');
    cleanups.push(cleanup);
    return handle;
  }

  it('stores every row of one turn, in the order they were recorded', async () => {
    const { db } = await database();
    await Promise.all(Array.from({ length: 30 }, (_, index) => recordAuditEvents(db, [{ workspaceId: 'w', at: index, type: 'login.failed', email: `c${index}@example.com` }])));
    const events = await listAuditEvents(db, 'w', 100);
    expect(events.map((event) => event.email).reverse()).toEqual(Array.from({ length: 30 }, (_, index) => `c${index}@example.com`));
  });

  it('fails only the call whose own row fails, and stores the rest', async () => {
    const { db } = await database();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) => recordAuditEvents(db, [{ workspaceId: index === 4 ? 'no-such-workspace' : 'w', at: index, type: 'login.failed', email: `c${index}@example.com` }])),
    );
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(await listAuditEvents(db, 'w', 100)).toHaveLength(9);
  });
});
