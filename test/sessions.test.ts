import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import type { HttpAgent } from './helpers/http-agent.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

const day = 24 * 3600_000;
const chromeOnMac = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const firefoxOnWindows = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

describe.each(testDialects)('sessions on %s', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  let emailCounter = 0;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect, smtpUrl: sink.url });
    workspace = await server.createWorkspace('Sessions');
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  /** A new client, and a browser signed in as them by magic link. */
  async function signedInClient(userAgent = chromeOnMac) {
    const email = `person${(emailCounter += 1)}@example.com`;
    await server.addClient(workspace, email, `Person ${emailCounter}`);
    const browser = await signIn(email, userAgent);
    return { email, browser };
  }

  async function signIn(email: string, userAgent = chromeOnMac, browser: HttpAgent = server.agent(workspace)) {
    const before = sink.mailsTo(email).length;
    await browser.post('/magic-login', { email }, { headers: { 'user-agent': userAgent } });
    const mails = await sink.waitForMails(email, before + 1);
    const token = tokenFromLink(linkFromMail(mails[mails.length - 1]!, workspace.url));
    const response = await browser.post('/magic-login/verify', { token }, { headers: { 'user-agent': userAgent } });
    expect(response.status).toBe(303);
    return browser;
  }

  function sessionCookie(browser: HttpAgent): string | undefined {
    return browser.cookies.get('portico_session');
  }

  // issue 17 item 2: `/` used to send a signed-out visitor to /login; the default door is now the email link.
  it('sends a signed-out visitor from / to the default door, /magic-login; /login still offers the email link', async () => {
    const response = await server.agent(workspace).get('/');
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe('/magic-login');
    const login = await server.agent(workspace).get('/login');
    expect(login.body).toContain('href="/magic-login"');
    expect(login.body).toContain('Email me a sign-in link');
  });

  it('lists active sessions on /account with browser and sign-in method, and signs one out', async () => {
    const { email, browser: mac } = await signedInClient(chromeOnMac);
    const windows = await signIn(email, firefoxOnWindows);
    const account = await mac.get('/account');
    expect(account.status).toBe(200);
    expect(account.headers['cache-control']).toBe('no-store');
    expect(account.body).toContain('Chrome 131 on macOS');
    expect(account.body).toContain('Firefox 133 on Windows');
    expect(account.body).toContain('Email link');
    expect(account.body).toContain('This browser');

    const otherId = [...account.body.matchAll(/name="session" value="([^"]+)"/g)].map((match) => match[1]!);
    expect(otherId).toHaveLength(2);
    const rows = account.body.split('<tr>').filter((row) => row.includes('name="session"'));
    const windowsRow = rows.find((row) => row.includes('Firefox'))!;
    const windowsId = /name="session" value="([^"]+)"/.exec(windowsRow)![1]!;
    const ended = await mac.post('/account/sessions/end', { session: windowsId });
    expect(ended.status).toBe(303);
    expect((await windows.get('/api/me')).status).toBe(401);
    expect((await mac.get('/api/me')).status).toBe(200);
  });

  it('signs out everywhere', async () => {
    const { email, browser: first } = await signedInClient();
    const second = await signIn(email);
    const response = await first.post('/account/sessions/end-all', {});
    expect(response.headers.location).toBe('/magic-login?signed_out=1');
    expect((await first.get('/api/me')).status).toBe(401);
    expect((await second.get('/api/me')).status).toBe(401);
  });

  it('ends the session on POST /logout and clears the cookie', async () => {
    const { browser } = await signedInClient();
    const stolen = sessionCookie(browser)!;
    const response = await browser.post('/logout', {});
    expect(response.status).toBe(303);
    expect(String(response.headers['set-cookie'])).toMatch(/portico_session=;/);
    const replay = server.agent(workspace);
    replay.cookies.set('portico_session', stolen);
    expect((await replay.get('/api/me')).status).toBe(401);
  });

  it('issues a new session id at every sign-in and never upgrades a planted one', async () => {
    const email = `fixation${(emailCounter += 1)}@example.com`;
    await server.addClient(workspace, email);
    const browser = server.agent(workspace);
    const planted = 'attacker-chosen-session-id-000000000000000000';
    browser.cookies.set('portico_session', planted);
    await signIn(email, chromeOnMac, browser);
    const first = sessionCookie(browser)!;
    expect(first).not.toBe(planted);
    await signIn(email, chromeOnMac, browser);
    const second = sessionCookie(browser)!;
    expect(second).not.toBe(first);
    // The session this browser had before the second sign-in ended with it.
    const old = server.agent(workspace);
    old.cookies.set('portico_session', first);
    expect((await old.get('/api/me')).status).toBe(401);
  });

  it('expires after 7 idle days, and after 30 days however active', async () => {
    const { browser: idle } = await signedInClient();
    const { browser: busy } = await signedInClient();
    server.clock.advance(6 * day);
    expect((await idle.get('/api/me')).status).toBe(200);
    server.clock.advance(7 * day + 60_000);
    expect((await idle.get('/api/me')).status).toBe(401);

    // `busy` was last seen 13 days ago: gone too. A fresh one is kept alive daily until day 30.
    expect((await busy.get('/api/me')).status).toBe(401);
    const { browser: daily } = await signedInClient();
    for (let elapsed = 0; elapsed < 29; elapsed += 1) {
      server.clock.advance(day);
      expect((await daily.get('/api/me')).status).toBe(200);
    }
    server.clock.advance(day + 60_000);
    expect((await daily.get('/api/me')).status).toBe(401);
  });

  it('ends the sessions of a client who is disabled', async () => {
    const { disableClient } = await import('../src/clients/clients.js');
    const { email, browser } = await signedInClient();
    await disableClient(server.portico.context, server.clock, workspace, email);
    expect((await browser.get('/api/me')).status).toBe(401);
    const { listAuditEvents } = await import('../src/events/audit-events.js');
    const [latest] = await listAuditEvents(server.portico.context.db, workspace.id, 1);
    expect(latest).toMatchObject({ type: 'client.disabled', email, sessionsEnded: 1 });
  });
});
