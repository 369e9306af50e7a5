import { afterEach, describe, expect, it } from 'vitest';
import { openTestContextWithClients, testDialects } from '../../test/helpers/databases.js';
import type { PorticoContext } from '../context.js';
import { hashSecretToken } from '../crypto/tokens.js';
import { findWorkspaceById } from '../workspaces/workspaces.js';
import { issueMagicLinkToken } from './magic-links.js';
import { redeemMagicLink } from './redeem-magic-link.js';

// Redemptions made at the same moment (on PostgreSQL, the ones of one turn of the event loop share
// one statement): each must be answered as if they had run one after the other, in the order they
// were made, and only the winners get a session and its events.
describe.each(testDialects)('redemptions made at the same moment, on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const now = 1_700_000_000_000;

  async function setUp(): Promise<PorticoContext> {
    const { context, cleanup } = await openTestContextWithClients(dialect, ['ada', 'bob', 'cy'], now);
    cleanups.push(cleanup);
    return context;
  }

  async function link(context: PorticoContext, clientId: string, ttlMs = 60_000): Promise<string> {
    return (await issueMagicLinkToken(context.db, now - 1_000, { workspaceId: 'w', clientId, ttlMs, nextPath: `/${clientId}`, browserBindingHash: null })).token;
  }

  it('lets the first of each client win, ends its other links, and starts only the winners’ sessions', async () => {
    const context = await setUp();
    const workspace = (await findWorkspaceById(context.db, 'w'))!;
    const [ada1, ada2, bob, cyExpired] = [await link(context, 'ada'), await link(context, 'ada'), await link(context, 'bob'), await link(context, 'cy', 500)];
    const redeem = (token: string) => redeemMagicLink(context, workspace, { token, ip: '192.0.2.1', userAgent: 'test', locale: 'en' });
    const results = await Promise.all([redeem(ada2), redeem(bob), redeem(ada2), redeem(ada1), redeem(cyExpired), redeem('never-issued')]);
    expect(results.map((result) => (result.ok ? result.nextPath : result.reason))).toEqual(['/ada', '/bob', 'used', 'superseded', 'expired', 'unknown']);
    const sessions = await context.db.selectFrom('sessions').select(['id_hash', 'client_id']).execute();
    const sessionOf = (index: number) => {
      const result = results[index]!;
      return result.ok ? sessions.find((row) => row.id_hash === hashSecretToken(result.session.token))?.client_id : null;
    };
    expect(sessions).toHaveLength(2);
    expect([sessionOf(0), sessionOf(1)]).toEqual(['ada', 'bob']);
    const links = await context.db.selectFrom('magic_links').select(['token_hash', 'end_reason']).execute();
    const reasonOf = (token: string) => links.find((row) => row.token_hash === hashSecretToken(token))?.end_reason;
    expect([reasonOf(ada1), reasonOf(ada2), reasonOf(bob), reasonOf(cyExpired)]).toEqual(['superseded', 'used', 'used', null]);
    const events = await context.db.selectFrom('events').select(['type', 'email']).where('type', '!=', 'magic_link.rejected').orderBy('id').execute();
    expect(events).toEqual([
      { type: 'magic_link.used', email: 'ada@example.com' },
      { type: 'session.started', email: 'ada@example.com' },
      { type: 'magic_link.used', email: 'bob@example.com' },
      { type: 'session.started', email: 'bob@example.com' },
    ]);
  });
});
