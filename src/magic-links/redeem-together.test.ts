import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseWithWorkspace } from '../../test/helpers/databases.js';
import { hashSecretToken } from '../crypto/tokens.js';
import type { DatabaseHandle } from '../storage/database.js';
import { issueMagicLinkToken } from './magic-links.js';
import { redeemInBatch, type RedemptionRequest } from './redeem-together.js';

// On PostgreSQL the redemptions of one turn of the event loop are one statement: each must be
// answered as if they had run one after the other, in the order they were made.
describe('redemptions made at the same moment, on postgres', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const now = 1_700_000_000_000;

  async function database(): Promise<DatabaseHandle> {
    const { handle, cleanup } = await openTestDatabaseWithWorkspace('postgres');
    cleanups.push(cleanup);
    const client = (id: string) => ({ id, workspace_id: 'w', email: `${id}@example.com`, email_normalized: `${id}@example.com`, name: id, password_hash: null, disabled_at: null, created_at: 0 });
    await handle.db.insertInto('clients').values([client('ada'), client('bob'), client('cy')]).execute();
    return handle;
  }

  async function link(handle: DatabaseHandle, clientId: string, ttlMs = 60_000): Promise<string> {
    return (await issueMagicLinkToken(handle.db, now - 1_000, { workspaceId: 'w', clientId, ttlMs, nextPath: `/${clientId}`, browserBindingHash: null })).token;
  }

  function request(token: string, session: string): RedemptionRequest {
    return { now, tokenHash: hashSecretToken(token), workspaceId: 'w', sessionIdHash: session, sessionExpiresAt: now + 3_600_000, userAgent: 'test', ip: '192.0.2.1' };
  }

  it('lets the first of each client win, ends its other links, and starts only the winners’ sessions', async () => {
    const handle = await database();
    const [ada1, ada2, bob, cyExpired] = [await link(handle, 'ada'), await link(handle, 'ada'), await link(handle, 'bob'), await link(handle, 'cy', 500)];
    const results = await Promise.all([
      redeemInBatch(handle.db, request(ada2, 's1')),
      redeemInBatch(handle.db, request(bob, 's2')),
      redeemInBatch(handle.db, request(ada2, 's3')),
      redeemInBatch(handle.db, request(ada1, 's4')),
      redeemInBatch(handle.db, request(cyExpired, 's5')),
      redeemInBatch(handle.db, request('never-issued', 's6')),
    ]);
    expect(results).toEqual([
      { clientId: 'ada', clientEmail: 'ada@example.com', nextPath: '/ada' },
      { clientId: 'bob', clientEmail: 'bob@example.com', nextPath: '/bob' },
      null,
      null,
      null,
      null,
    ]);
    const sessions = await handle.db.selectFrom('sessions').select(['id_hash', 'client_id']).orderBy('id_hash').execute();
    expect(sessions).toEqual([
      { id_hash: 's1', client_id: 'ada' },
      { id_hash: 's2', client_id: 'bob' },
    ]);
    const links = await handle.db.selectFrom('magic_links').select(['token_hash', 'end_reason']).execute();
    const reasonOf = (token: string) => links.find((row) => row.token_hash === hashSecretToken(token))?.end_reason;
    expect([reasonOf(ada1), reasonOf(ada2), reasonOf(bob), reasonOf(cyExpired)]).toEqual(['superseded', 'used', 'used', null]);
    const events = await handle.db.selectFrom('events').select(['type', 'email']).orderBy('id').execute();
    expect(events).toEqual([
      { type: 'magic_link.used', email: 'ada@example.com' },
      { type: 'session.started', email: 'ada@example.com' },
      { type: 'magic_link.used', email: 'bob@example.com' },
      { type: 'session.started', email: 'bob@example.com' },
    ]);
  });
});
