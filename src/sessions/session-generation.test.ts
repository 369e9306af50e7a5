import { afterEach, describe, expect, it } from 'vitest';
import { openTestContextWithClients, testDialects } from '../../test/helpers/databases.js';
import type { PorticoContext } from '../context.js';
import { consumeMagicLinkToken, issueMagicLinkToken } from '../magic-links/magic-links.js';
import { endEverythingOfClient } from './end-everything-of-client.js';
import { startSession, validateSessionToken } from './sessions.js';

// Issue 14 review: using a link and storing its session are two commits. A password reset (or
// change, or "sign out everywhere") that commits between them found no session to end, and the
// session stored a moment later outlived it. Each session now records the client's session
// generation its sign-in saw; ending everything moves the client's on.
describe.each(testDialects)('a session and an ending that cross, on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const now = 1_700_000_000_000;

  async function setUp(): Promise<PorticoContext> {
    const { context, cleanup } = await openTestContextWithClients(dialect, ['ada'], now);
    cleanups.push(cleanup);
    return context;
  }

  const signIn = (context: PorticoContext, clientGeneration: number) =>
    startSession(context.db, context.clock, context.config.session, { workspaceId: 'w', clientId: 'ada', clientGeneration, method: 'magic_link', userAgent: 'test', ip: '192.0.2.1' });
  const validate = (context: PorticoContext, token: string) => validateSessionToken(context, context.clock, context.config.session, 'w', token);
  const endEverything = (context: PorticoContext, keepSessionIdHash?: string) =>
    context.db.transaction().execute((trx) => endEverythingOfClient({ db: trx, sessionCache: context.sessionCache }, 'ada', { now, linkEndReason: 'superseded', keepSessionIdHash }));

  it('refuses a session stored just after everything of its client was ended, by a link used just before', async () => {
    const context = await setUp();
    const link = await issueMagicLinkToken(context.db, now - 1_000, { workspaceId: 'w', clientId: 'ada', ttlMs: 60_000, nextPath: null, browserBindingHash: null });
    const consumed = await consumeMagicLinkToken(context.db, now, 'w', link.token);
    if (!consumed.ok) throw new Error(consumed.reason);
    await endEverything(context);
    const late = await signIn(context, consumed.clientGeneration);
    expect(await validate(context, late.token)).toBeNull();
  });

  it('keeps the session of the browser that changed the password, and lets a sign-in after the ending in', async () => {
    const context = await setUp();
    const [kept, other] = [await signIn(context, 0), await signIn(context, 0)];
    await endEverything(context, kept.idHash);
    expect(await validate(context, kept.token)).not.toBeNull();
    expect(await validate(context, other.token)).toBeNull();
    const link = await issueMagicLinkToken(context.db, now - 1_000, { workspaceId: 'w', clientId: 'ada', ttlMs: 60_000, nextPath: null, browserBindingHash: null });
    const consumed = await consumeMagicLinkToken(context.db, now, 'w', link.token);
    if (!consumed.ok) throw new Error(consumed.reason);
    const after = await signIn(context, consumed.clientGeneration);
    expect(await validate(context, after.token)).not.toBeNull();
  });
});
