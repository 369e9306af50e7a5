import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecretToken } from '../src/crypto/tokens.js';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects, type DialectName } from './helpers/databases.js';
import type { HttpAgent } from './helpers/http-agent.js';
import { runPorticoCommand } from './helpers/portico-process.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// Issue 13 item 1: once the call that ends a session has returned, the very next request carrying
// it is not signed in (OWASP ASVS 5.0 V7.4). A session read from the database used to be trusted
// for a second in each process, and one expired cookie emptied every process's whole cache.
// Two instances on one PostgreSQL database: test/scale-out.test.ts.

const day = 24 * 3600_000;

function suite(dialect: DialectName) {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  let counter = 0;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect, smtpUrl: sink.url });
    workspace = await server.createWorkspace('Revoke');
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  async function signedIn(email = `revoke${(counter += 1)}@example.com`): Promise<{ email: string; browser: HttpAgent }> {
    if (!(await server.portico.context.db.selectFrom('clients').select('id').where('email', '=', email).executeTakeFirst())) await server.addClient(workspace, email);
    const browser = server.agent(workspace);
    const before = sink.mailsTo(email).length;
    await browser.post('/magic-login', { email });
    const mails = await sink.waitForMails(email, before + 1);
    expect((await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mails[mails.length - 1]!, workspace.url)) })).status).toBe(303);
    return { email, browser };
  }

  return { get: () => ({ server, workspace }), signedIn };
}

describe.each(testDialects)('ending a session on %s (issue 13 item 1)', (dialect) => {
  const { get, signedIn } = suite(dialect);

  it('refuses a client disabled by `portico client disable` in another process at the very next request', async () => {
    const { server, workspace } = get();
    const { email, browser } = await signedIn();
    expect((await browser.get('/api/me')).status).toBe(200);
    // Asked again and again while the command runs, so the server has just read the session when it returns.
    let running = true;
    const asking = (async () => {
      while (running) await browser.get('/api/me');
    })();
    const disabled = await runPorticoCommand(['client', 'disable', '--workspace', workspace.slug, '--email', email, '--json'], { DATABASE_URL: server.database.url });
    const next = await browser.get('/api/me');
    running = false;
    await asking;
    expect(disabled.stderr).toBe('');
    expect(disabled.code).toBe(0);
    expect(next.status).toBe(401);
  });

  it('refuses a session the clock has expired at the next request, though it was read just before', async () => {
    const { server } = get();
    const { browser } = await signedIn();
    // Read within the minute `last_seen_at` is not rewritten, so the session is idle from sign-in.
    server.clock.advance(30_000);
    expect((await browser.get('/api/me')).status).toBe(200);
    server.clock.advance(7 * day - 30_000);
    expect((await browser.get('/api/me')).status).toBe(401);
  });

  it('refuses, once sign-out has returned, a session whose reads were under way while it ended', async () => {
    const { server, workspace } = get();
    const { browser } = await signedIn();
    const stolen = server.agent(workspace);
    stolen.cookies.set('portico_session', browser.cookies.get('portico_session')!);
    const during = Array.from({ length: 40 }, () => stolen.get('/api/me'));
    expect((await browser.post('/logout', {})).status).toBe(303);
    expect((await stolen.get('/api/me')).status).toBe(401);
    await Promise.all(during);
    expect((await stolen.get('/api/me')).status).toBe(401);
  });
});

describe('the session cache on SQLite (issue 13 item 1)', () => {
  const { get, signedIn } = suite('sqlite');

  it('loses no other session to an expired or unknown cookie', async () => {
    const { server, workspace } = get();
    const { browser: expiring } = await signedIn();
    server.clock.advance(6 * day);
    const { browser: kept } = await signedIn();
    expect((await kept.get('/api/me')).status).toBe(200);
    server.clock.advance(day + 60_000);
    const keptHash = hashSecretToken(kept.cookies.get('portico_session')!);
    const cache = server.portico.context.sessionCache;
    expect(cache.get(keptHash, workspace.id)).toBeDefined();

    expect((await expiring.get('/api/me')).status).toBe(401);
    const stranger = server.agent(workspace);
    stranger.cookies.set('portico_session', 'x'.repeat(43));
    expect((await stranger.get('/api/me')).status).toBe(401);
    expect(cache.get(keptHash, workspace.id)).toBeDefined();
    expect((await kept.get('/api/me')).status).toBe(200);
  });
});
