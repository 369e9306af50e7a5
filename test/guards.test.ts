import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { HttpAgent } from './helpers/http-agent.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// The guards do not depend on the SQL dialect; the dialect loop lives in the behaviour tests.
describe('guards on every door', () => {
  let sink: SmtpSink;
  let server: TestPortico;
  let acme: Workspace;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: sink.url, env: { TRUST_PROXY: '127.0.0.1' } });
    acme = await server.createWorkspace('Guarded');
    for (const email of ['guarded@example.com', 'redeem@example.com', 'logout@example.com', 'asker@example.com']) await server.addClient(acme, email);
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  async function linkFor(agent: HttpAgent, email: string) {
    const before = sink.mailsTo(email).length;
    expect((await agent.post('/magic-login', { email })).status).toBe(200);
    const mails = await sink.waitForMails(email, before + 1);
    return linkFromMail(mails[mails.length - 1]!, acme.url);
  }

  describe('cross-site POSTs are refused with 403', () => {
    const crossSite: [string, Record<string, string>][] = [
      ['another Origin', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['a sibling subdomain (same-site)', { 'sec-fetch-site': 'same-site', origin: 'http://other.test' }],
      ['Origin: null', { origin: 'null' }],
      ['a foreign Referer without Origin', { referer: 'https://evil.example/page' }],
    ];
    it.each(crossSite)('%s on /magic-login sends no mail', async (_label, headers) => {
      const before = sink.mailsTo('guarded@example.com').length;
      const response = await server.agent(acme).request('/magic-login', { method: 'POST', form: { email: 'guarded@example.com' }, headers });
      expect(response.status).toBe(403);
      expect(response.body).toContain('refused');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(sink.mailsTo('guarded@example.com')).toHaveLength(before);
    });

    it('on link redemption, leaving the link usable', async () => {
      const token = tokenFromLink(await linkFor(server.agent(acme), 'redeem@example.com'));
      const forged = await server.agent(acme).request('/magic-login/verify', {
        method: 'POST',
        form: { token },
        headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      });
      expect(forged.status).toBe(403);
      expect((await server.agent(acme).post('/magic-login/verify', { token })).status).toBe(303);
    });

    it('on sign-out, leaving the session alive', async () => {
      const browser = server.agent(acme);
      await browser.post('/magic-login/verify', { token: tokenFromLink(await linkFor(browser, 'logout@example.com')) });
      const forged = await browser.request('/logout', { method: 'POST', headers: { origin: 'https://evil.example' } });
      expect(forged.status).toBe(403);
      expect((await browser.get('/api/me')).status).toBe(200);
    });

    it('but a form on the no-referrer link page (Origin: null, Sec-Fetch-Site: same-origin) passes', async () => {
      const response = await server.agent(acme).request('/magic-login', {
        method: 'POST',
        form: { email: 'guarded@example.com' },
        headers: { origin: 'null', 'sec-fetch-site': 'same-origin' },
      });
      expect(response.status).toBe(200);
    });

    it('and, on plain-http hosts without Sec-Fetch-Site, one that carries our SameSite cookie', async () => {
      const token = tokenFromLink(await linkFor(server.agent(acme), 'redeem@example.com'));
      const browser = server.agent(acme);
      await browser.get(`/magic-login/verify?token=${token}`);
      expect([...browser.cookies.keys()]).toContain('portico_browser');
      const response = await browser.request('/magic-login/verify', { method: 'POST', form: { token }, headers: { origin: 'null' } });
      expect(response.status).toBe(303);
    });

    it('but a request without any browser header (a script, curl) passes', async () => {
      const response = await server.agent(acme).request('/magic-login', { method: 'POST', form: { email: 'guarded@example.com' } });
      expect(response.status).toBe(200);
    });
  });

  it('only the browser that asked for the link signs in by itself', async () => {
    const asker = server.agent(acme);
    const link = await linkFor(asker, 'asker@example.com');
    const path = new URL(link).pathname + new URL(link).search;

    const own = await asker.get(path);
    const nonce = /script-src 'nonce-([^']+)'/.exec(String(own.headers['content-security-policy']))![1];
    expect(own.body).toContain(`<script nonce="${nonce}">`);
    expect(own.body).toContain('.submit()');

    const other = await server.agent(acme).get(path);
    expect(other.status).toBe(200);
    expect(other.body).not.toContain('<script');
    expect(other.body).toContain('Sign in as asker@example.com');
  });

  it('sends the security headers on pages', async () => {
    const response = await server.agent(acme).get('/magic-login');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('same-origin');
    expect(response.headers['strict-transport-security']).toBeUndefined();
    const again = await server.agent(acme).get('/magic-login');
    expect(again.headers['content-security-policy']).not.toBe(csp);
  });

  it('answers an unknown host with a 404 page and nothing else; /healthz answers on any host', async () => {
    const stranger = new HttpAgent(server.portico.address, 'http://unknown.test:1');
    const page = await stranger.get('/magic-login');
    expect(page.status).toBe(404);
    expect(page.body).toContain('No portal here');
    expect(page.body).not.toContain('Guarded');
    expect((await stranger.request('/magic-login', { method: 'POST', form: { email: 'guarded@example.com' } })).status).toBe(404);
    const health = await stranger.get('/healthz');
    expect(health.status).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
  });

  it('refuses an oversized body with 413 and a page, not a stack trace', async () => {
    const response = await server.agent(acme).post('/magic-login', { email: 'guarded@example.com', padding: 'x'.repeat(20_000) });
    expect(response.status).toBe(413);
    expect(response.body).toContain('too large');
    expect(response.body).not.toMatch(/at .*\.js:\d+/);
  });

  it('shows input errors on the form, keeping what was typed', async () => {
    const response = await server.agent(acme).post('/magic-login', { email: 'not an email' });
    expect(response.status).toBe(400);
    expect(response.body).toContain('aria-invalid="true"');
    expect(response.body).toContain('value="not an email"');
    const doubled = await server.agent(acme).post('/magic-login', { email: ['guarded@example.com', 'attacker@evil.example'] });
    expect(doubled.status).toBe(400);
    const wrongType = await server.agent(acme).request('/magic-login', {
      method: 'POST',
      body: '{"email":',
      headers: { 'content-type': 'application/json', origin: acme.url },
    });
    expect(wrongType.status).toBeGreaterThanOrEqual(400);
    expect(wrongType.status).toBeLessThan(500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sink.mailsTo('attacker@evil.example')).toHaveLength(0);
  });

  it('treats a mangled link as invalid, with a way to ask for a new one', async () => {
    for (const path of ['/magic-login/verify', '/magic-login/verify?token=abc', '/magic-login/verify?token[]=x', `/magic-login/verify?token=${'A'.repeat(43)}`]) {
      const response = await server.agent(acme).get(path);
      expect(response.status).toBe(404);
      expect(response.body).toContain('not valid');
      expect(response.body).toContain('href="/magic-login"');
    }
  });

  it('gives an https workspace __Host- cookies with Secure, and HSTS (behind a trusted proxy)', async () => {
    const secureWorkspace = await server.createWorkspace('Secure');
    const { updateWorkspace } = await import('../src/workspaces/workspaces.js');
    const port = new URL(server.portico.address).port;
    const secure = await updateWorkspace(server.portico.context.db, secureWorkspace.slug, { url: `https://secure.test:${port}` });
    await server.addClient(secure, 'tls@example.com');
    const browser = new HttpAgent(server.portico.address, secure.url);
    const proxied = { 'x-forwarded-proto': 'https' };
    const asked = await browser.post('/magic-login', { email: 'tls@example.com' }, { headers: proxied });
    expect(asked.status).toBe(200);
    expect(asked.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(String(asked.headers['set-cookie'])).toMatch(/^__Host-portico_browser=[^;]+;.*Secure/);
    const [mail] = await sink.waitForMails('tls@example.com');
    const token = tokenFromLink(linkFromMail(mail!, secure.url));
    const signIn = await browser.post('/magic-login/verify', { token }, { headers: proxied });
    expect(signIn.status).toBe(303);
    const cookie = String(signIn.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-portico_session=/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Domain=/i);
  });
});
