import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { HttpAgent } from './helpers/http-agent.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

/**
 * The `browser_proof` field token pages used to carry: a hash of the `portico_browser` cookie. A
 * sibling host that plants that cookie (`Domain=` the parent domain) knows it, so it computes this.
 */
function oldBrowserProofFor(browserToken: string): string {
  return createHash('sha256').update(`portico browser proof\0${browserToken}`, 'utf8').digest('base64url');
}

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

    it('but Origin: null with the browser\'s own Sec-Fetch-Site: same-origin passes', async () => {
      const response = await server.agent(acme).request('/magic-login', {
        method: 'POST',
        form: { email: 'guarded@example.com' },
        headers: { origin: 'null', 'sec-fetch-site': 'same-origin' },
      });
      expect(response.status).toBe(200);
    });

    it('and the link page\'s own form, which posts with the real Origin (strict-origin, not no-referrer)', async () => {
      const token = tokenFromLink(await linkFor(server.agent(acme), 'redeem@example.com'));
      const browser = server.agent(acme);
      const page = await browser.get(`/magic-login/verify?token=${token}`);
      expect(page.headers['referrer-policy']).toBe('strict-origin');
      expect(page.body).not.toContain('browser_proof');
      const response = await browser.request('/magic-login/verify', { method: 'POST', form: { token }, headers: { origin: acme.url, referer: `${acme.url}/` } });
      expect(response.status).toBe(303);
    });

    // issue 13 item 9: Chromium posts exactly this (Origin: null, no Sec-Fetch-Site, and the
    // victim's portico_browser cookie, SameSite being no barrier between sibling hosts) from a page
    // on http://evil.acme.test to http://portal.acme.test; the victim was signed in to the
    // attacker's account. Then a hidden browser_proof bound to the cookie was asked for, but on
    // plain http a sibling host can toss in a cookie of its own choosing (`Domain=acme.test;
    // Path=/magic-login`, sent before the real one) and compute the proof. Nothing derived from a
    // cookie tells the two apart: our own pages no longer post with Origin: null, so it is refused.
    describe('login CSRF from a sibling plain-http host (Origin: null, no Sec-Fetch-Site, a portico_browser cookie)', () => {
      async function attackerAndVictim() {
        const attackerToken = tokenFromLink(await linkFor(server.agent(acme), 'redeem@example.com'));
        const victim = server.agent(acme);
        // The victim once asked for a link on this portal: its browser holds a real portico_browser cookie.
        expect((await victim.post('/magic-login', { email: 'victim@example.com' })).status).toBe(200);
        expect([...victim.cookies.keys()]).toContain('portico_browser');
        return { attackerToken, victim };
      }

      const tossed = 'T'.repeat(43);
      it.each([
        ['no browser proof', () => ({})],
        ['an empty browser proof', () => ({ browser_proof: '' })],
        ['the proof of the victim\'s own cookie', (victimCookie: string) => ({ browser_proof: oldBrowserProofFor(victimCookie) })],
        ['the proof of a cookie the attacker tossed in', () => ({ browser_proof: oldBrowserProofFor(tossed) })],
      ])('refuses a sign-in link POST with %s, and leaves the victim signed out', async (_label, extra) => {
        const { attackerToken, victim } = await attackerAndVictim();
        const victimCookie = victim.cookies.get('portico_browser')!;
        for (const cookie of [`portico_browser=${victimCookie}`, `portico_browser=${tossed}; portico_browser=${victimCookie}`, `portico_browser=${tossed}`]) {
          const forged = await victim.request('/magic-login/verify', {
            method: 'POST',
            form: { token: attackerToken, ...extra(victimCookie) },
            headers: { origin: 'null', cookie },
          });
          expect(forged.status, cookie).toBe(403);
          expect(forged.body).toContain('refused');
        }
        expect((await victim.get('/api/me')).status).toBe(401);
        // The link was not used up by the refused POSTs.
        expect((await server.agent(acme).post('/magic-login/verify', { token: attackerToken })).status).toBe(303);
      });

      it('refuses the same forgery on every other POST, with a cookie the attacker tossed in too', async () => {
        const { victim } = await attackerAndVictim();
        const victimCookie = victim.cookies.get('portico_browser')!;
        const before = sink.mailsTo('guarded@example.com').length;
        for (const [path, form] of [
          ['/magic-login', { email: 'guarded@example.com' }],
          ['/login', { email: 'guarded@example.com', password: 'not the password at all' }],
          ['/forgot-password', { email: 'guarded@example.com' }],
          ['/reset-password', { token: 'A'.repeat(43), password: 'a new password nobody chose' }],
          ['/logout', {}],
        ] as const) {
          for (const cookie of [`portico_browser=${victimCookie}`, `portico_browser=${tossed}; portico_browser=${victimCookie}`]) {
            const response = await victim.request(path, {
              method: 'POST',
              form: { ...form, browser_proof: oldBrowserProofFor(tossed) },
              headers: { origin: 'null', cookie },
            });
            expect(response.status, `${path} with ${cookie}`).toBe(403);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(sink.mailsTo('guarded@example.com')).toHaveLength(before);
      });

      it('lets the reset page\'s own form through with its real Origin, and refuses Origin: null', async () => {
        const browser = server.agent(acme);
        const before = sink.mailsTo('guarded@example.com').length;
        expect((await browser.post('/forgot-password', { email: 'guarded@example.com' })).status).toBe(200);
        const mails = await sink.waitForMails('guarded@example.com', before + 1);
        const resetLink = /(http:\/\/\S+\/reset-password\?token=\S+)/.exec(mails[mails.length - 1]!.text)![1]!;
        const token = new URL(resetLink).searchParams.get('token')!;
        const page = await browser.get(`/reset-password?token=${token}`);
        expect(page.headers['referrer-policy']).toBe('strict-origin');
        const nullOrigin = await browser.request('/reset-password', { method: 'POST', form: { token, password: 'copper lantern meadow violin' }, headers: { origin: 'null' } });
        expect(nullOrigin.status).toBe(403);
        const ownPage = { origin: acme.url, referer: `${acme.url}/` };
        const tooShort = await browser.request('/reset-password', { method: 'POST', form: { token, password: 'short' }, headers: ownPage });
        expect(tooShort.status).toBe(400);
        expect(tooShort.headers['referrer-policy']).toBe('strict-origin');
        const done = await browser.request('/reset-password', { method: 'POST', form: { token, password: 'copper lantern meadow violin' }, headers: ownPage });
        expect(done.status).toBe(303);
      });
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
    // The lead is a sentence of its own, ending where the address on the next line begins.
    expect(other.body).toMatch(/<p>You are about to sign in with this account:<\/p>\s*<p class="account-email">asker@example\.com<\/p>/);
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
