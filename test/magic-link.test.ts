import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

describe.each(testDialects)('the magic-link door on %s', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let acme: Workspace;
  let globex: Workspace;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect, smtpUrl: sink.url });
    acme = await server.createWorkspace('Acme');
    globex = await server.createWorkspace('Globex');
  });

  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  /** Asks for a link as `agent` and returns it, read from the mail that arrived in the sink. */
  async function requestLink(agent: ReturnType<TestPortico['agent']>, email: string, workspace: Workspace, form: Record<string, string> = {}) {
    const before = sink.mailsTo(email).length;
    const response = await agent.post('/magic-login', { email, ...form });
    expect(response.status).toBe(200);
    const mails = await sink.waitForMails(email, before + 1);
    return linkFromMail(mails[mails.length - 1]!, workspace.url);
  }

  it('signs a client in: request, mail, GET and HEAD consume nothing, POST, /api/me', async () => {
    await server.addClient(acme, 'ada@example.com', 'Ada Lovelace');
    const browser = server.agent(acme);
    expect((await browser.get('/api/me')).status).toBe(401);

    const link = await requestLink(browser, 'ada@example.com', acme);
    const mail = sink.mailsTo('ada@example.com')[0]!;
    expect(mail.subject).toContain('Acme');
    expect(mail.text).toContain('15 minutes');
    expect(mail.text).toMatch(/did not ask/);
    expect(mail.html).toContain(link.replace(/&/g, '&amp;'));
    expect(link.startsWith(`${acme.url}/magic-login/verify?token=`)).toBe(true);

    const token = tokenFromLink(link);
    const path = new URL(link).pathname + new URL(link).search;
    for (let scan = 0; scan < 3; scan += 1) {
      const scanner = server.agent(acme);
      expect((await scanner.get(path)).status).toBe(200);
      expect((await scanner.request(path, { method: 'HEAD' })).status).toBe(200);
    }

    const page = await browser.get(path);
    expect(page.status).toBe(200);
    expect(page.headers['referrer-policy']).toBe('strict-origin'); // the origin only, never the token (issue 13 item 9)
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain('ada@example.com');

    const signIn = await browser.post('/magic-login/verify', { token });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.location).toBe('/');
    const cookie = String(signIn.headers['set-cookie']);
    expect(cookie).toMatch(/portico_session=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);

    const me = await browser.get('/api/me');
    expect(me.status).toBe(200);
    expect(me.json()).toEqual({ client: { email: 'ada@example.com', name: 'Ada Lovelace' }, workspace: { slug: acme.slug, name: 'Acme' } });
    const home = await browser.get('/');
    expect(home.status).toBe(200);
    expect(home.body).toContain('Ada Lovelace');
    expect(home.body).toContain('Acme');
  });

  it('answers an unknown email exactly as a known one, and sends no mail', async () => {
    await server.addClient(acme, 'known@example.com');
    const known = await server.agent(acme).post('/magic-login', { email: 'known@example.com' });
    const unknown = await server.agent(acme).post('/magic-login', { email: 'nobody@example.com' });
    expect(unknown.status).toBe(known.status);
    const withoutNonce = (body: string) => body.replace(/nonce="[^"]+"/g, '').replace(/known@example\.com|nobody@example\.com/g, 'EMAIL');
    expect(withoutNonce(unknown.body)).toBe(withoutNonce(known.body));
    await sink.waitForMails('known@example.com');
    expect(sink.mailsTo('nobody@example.com')).toHaveLength(0);
  });

  it('accepts a link only once', async () => {
    await server.addClient(acme, 'once@example.com');
    const token = tokenFromLink(await requestLink(server.agent(acme), 'once@example.com', acme));
    expect((await server.agent(acme).post('/magic-login/verify', { token })).status).toBe(303);
    const again = await server.agent(acme).post('/magic-login/verify', { token });
    expect(again.status).toBe(410);
    expect(again.body).toContain('already been used');
    expect(again.body).toContain('href="/magic-login"');
    expect(again.headers['set-cookie'] ?? []).not.toEqual(expect.arrayContaining([expect.stringMatching(/portico_session=[^;]/)]));
  });

  it('refuses a link past the workspace lifetime', async () => {
    const quick = await server.createWorkspace('Quick', { ttl: '2m' });
    await server.addClient(quick, 'late@example.com');
    const link = await requestLink(server.agent(quick), 'late@example.com', quick);
    expect(sink.mailsTo('late@example.com')[0]!.text).toContain('2 minutes');
    server.clock.advance(2 * 60_000 + 1000);
    const browser = server.agent(quick);
    const page = await browser.get(new URL(link).pathname + new URL(link).search);
    expect(page.status).toBe(410);
    expect(page.body).toContain('expired');
    const response = await browser.post('/magic-login/verify', { token: tokenFromLink(link) });
    expect(response.status).toBe(410);
    expect(response.body).toContain('expired');
    expect((await browser.get('/api/me')).status).toBe(401);
  });

  it('keeps earlier links usable until one is used, then ends them all', async () => {
    await server.addClient(acme, 'many@example.com');
    const browser = server.agent(acme);
    const first = tokenFromLink(await requestLink(browser, 'many@example.com', acme));
    const second = tokenFromLink(await requestLink(browser, 'many@example.com', acme));
    const third = tokenFromLink(await requestLink(browser, 'many@example.com', acme));
    expect((await server.agent(acme).post('/magic-login/verify', { token: second })).status).toBe(303);
    for (const token of [first, third]) {
      const response = await server.agent(acme).post('/magic-login/verify', { token });
      expect(response.status).toBe(410);
      expect(response.body).toContain('no longer works');
    }
  });

  it('lets one of two links of a client used at the same moment sign in, and ends the other', async () => {
    await server.addClient(acme, 'twolinks@example.com');
    const browser = server.agent(acme);
    const first = tokenFromLink(await requestLink(browser, 'twolinks@example.com', acme));
    const second = tokenFromLink(await requestLink(browser, 'twolinks@example.com', acme));
    const agents = [first, second, first, second].map((token) => ({ token, agent: server.agent(acme) }));
    const statuses = await Promise.all(agents.map(async ({ token, agent }) => (await agent.post('/magic-login/verify', { token })).status));
    expect([...statuses].sort()).toEqual([303, 410, 410, 410]);
    const signedIn = await Promise.all(agents.map(async ({ agent }) => (await agent.get('/api/me')).status));
    expect(signedIn.filter((status) => status === 200)).toHaveLength(1);
  });

  it("rejects another workspace's token and ignores its session cookie", async () => {
    await server.addClient(acme, 'both@example.com');
    await server.addClient(globex, 'both@example.com');
    const acmeToken = tokenFromLink(await requestLink(server.agent(acme), 'both@example.com', acme));

    const atGlobex = server.agent(globex);
    expect((await atGlobex.get(`/magic-login/verify?token=${acmeToken}`)).status).toBe(404);
    expect((await atGlobex.post('/magic-login/verify', { token: acmeToken })).status).toBe(404);
    expect((await atGlobex.get('/api/me')).status).toBe(401);

    const atAcme = server.agent(acme);
    expect((await atAcme.post('/magic-login/verify', { token: acmeToken })).status).toBe(303);
    const sessionCookie = [...atAcme.cookies].find(([name]) => name.endsWith('portico_session'))!;
    const planted = server.agent(globex);
    planted.cookies.set(sessionCookie[0], sessionCookie[1]);
    expect((await planted.get('/api/me')).status).toBe(401);
    expect((await planted.get('/')).headers.location).toBe('/magic-login');
  });

  it('lets exactly one of 50 concurrent redemptions of one link sign in', async () => {
    await server.addClient(acme, 'race@example.com');
    const token = tokenFromLink(await requestLink(server.agent(acme), 'race@example.com', acme));
    const agents = Array.from({ length: 50 }, () => server.agent(acme));
    const responses = await Promise.all(agents.map((agent) => agent.post('/magic-login/verify', { token })));
    expect(responses.filter((response) => response.status === 303)).toHaveLength(1);
    expect(responses.filter((response) => response.status === 410)).toHaveLength(49);
    const signedIn = await Promise.all(agents.map(async (agent) => (await agent.get('/api/me')).status));
    expect(signedIn.filter((status) => status === 200)).toHaveLength(1);
  });

  it('mails each of 20 clients asking at once their own link, which signs in only them', async () => {
    // The worker prepares and sends the mails it claims together (on PostgreSQL, one statement for
    // each step of all of them): no link may reach another client, or be lost on the way.
    const emails = Array.from({ length: 20 }, (_, index) => `crowd${index}@example.com`);
    for (const email of emails) await server.addClient(acme, email, email.split('@')[0]);
    const answers = await Promise.all(emails.map((email) => server.agent(acme).post('/magic-login', { email })));
    expect(answers.map((answer) => answer.status)).toEqual(emails.map(() => 200));
    const links = await Promise.all(emails.map(async (email) => linkFromMail((await sink.waitForMails(email, 1))[0]!, acme.url)));
    expect(new Set(links).size).toBe(20);
    const redeemed = await Promise.all(
      emails.map(async (email, index) => {
        const browser = server.agent(acme);
        const signIn = await browser.post('/magic-login/verify', { token: tokenFromLink(links[index]!) });
        return { email, status: signIn.status, me: ((await browser.get('/api/me')).json() as { client?: { email: string } }).client?.email };
      }),
    );
    expect(redeemed).toEqual(emails.map((email) => ({ email, status: 303, me: email })));
    expect(emails.map((email) => sink.mailsTo(email).length)).toEqual(emails.map(() => 1));
  });

  it('honours next only as a path on the same workspace', async () => {
    await server.addClient(acme, 'next@example.com');
    const cases: [string, string][] = [
      ['/invoices/42?tab=pdf', '/invoices/42?tab=pdf'],
      ['//evil.example', '/'],
      ['https://evil.example/', '/'],
      ['/\\evil.example', '/'],
    ];
    for (const [next, landing] of cases) {
      const token = tokenFromLink(await requestLink(server.agent(acme), 'next@example.com', acme, { next }));
      const response = await server.agent(acme).post('/magic-login/verify', { token });
      expect(response.status).toBe(303);
      expect(response.headers.location).toBe(landing);
    }
  });

  it('does not mail a disabled client, nor sign them in with a link sent before', async () => {
    const { disableClient } = await import('../src/clients/clients.js');
    await server.addClient(acme, 'gone@example.com');
    const token = tokenFromLink(await requestLink(server.agent(acme), 'gone@example.com', acme));
    await disableClient(server.portico.context, server.clock, acme, 'gone@example.com');
    expect((await server.agent(acme).post('/magic-login/verify', { token })).status).toBe(410);
    const sent = sink.mailsTo('gone@example.com').length;
    expect((await server.agent(acme).post('/magic-login', { email: 'gone@example.com' })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sink.mailsTo('gone@example.com')).toHaveLength(sent);
  });

  it('matches emails case-insensitively but mails the stored address', async () => {
    // nodemailer lower-cases the domain (domains are case-insensitive); the local part is kept as stored.
    await server.addClient(acme, 'Grace.Hopper@example.com');
    const response = await server.agent(acme).post('/magic-login', { email: 'GRACE.HOPPER@EXAMPLE.COM' });
    expect(response.status).toBe(200);
    const [mail] = await sink.waitForMails('Grace.Hopper@example.com');
    expect(mail!.to).toEqual(['Grace.Hopper@example.com']);
  });

  it('records the audit trail of a sign-in', async () => {
    const { listAuditEvents } = await import('../src/events/audit-events.js');
    const audited = await server.createWorkspace('Audited');
    await server.addClient(audited, 'audit@example.com');
    const token = tokenFromLink(await requestLink(server.agent(audited), 'audit@example.com', audited));
    // "sent" is recorded once the SMTP server has answered, which can be just after the mail is in
    // the mailbox: the trail is read in the order things happened, so the click comes after it.
    await vi.waitFor(async () => expect((await listAuditEvents(server.portico.context.db, audited.id, 20)).map((event) => event.type)).toContain('magic_link.sent'));
    await server.agent(audited).post('/magic-login/verify', { token });
    await server.agent(audited).post('/magic-login/verify', { token });
    const events = await listAuditEvents(server.portico.context.db, audited.id, 20);
    expect(events.map((event) => event.type).reverse()).toEqual([
      'magic_link.requested',
      'magic_link.sent',
      'magic_link.used',
      'session.started',
      'magic_link.rejected',
    ]);
    expect(events[0]).toMatchObject({ type: 'magic_link.rejected', reason: 'used', email: 'audit@example.com' });
  });
});
