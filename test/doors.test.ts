import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { createWorkspace, updateWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import type { HttpAgent } from './helpers/http-agent.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { TestClock } from './helpers/test-clock.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

/*
 * issue 17 item 2: no dead ends at the doors. Asking again within the cooldown says so and when to
 * ask again; the address goes along between the doors; a signed-in visitor is offered the way on;
 * a 429 keeps the form and counts down; `/` sends a signed-out visitor to the workspace's default door.
 */

const withoutNonce = (body: string) => body.replace(/nonce="[^"]+"/g, '');
/** The answer with an address, as typed and URL-encoded, replaced: for comparing two addresses' answers. */
const withoutAddress = (body: string, email: string) => withoutNonce(body).replaceAll(email, 'EMAIL').replaceAll(encodeURIComponent(email), 'EMAIL');

describe.each(testDialects)('no dead ends at the doors, on %s', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let port: string;
  let made = 0;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    // Frozen: the seconds a page counts down are compared exactly, and must not depend on how fast a loaded machine answers.
    server = await startTestPortico({ dialect, smtpUrl: sink.url, clock: new TestClock({ frozen: true, atTopOfHour: true }) });
    port = new URL(server.portico.address).port;
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  /** A workspace of its own for each test, with the limits (and door) it needs set before its first request. */
  async function workspaceWith(options: { limits?: Record<string, string>; defaultDoor?: string } = {}): Promise<Workspace> {
    made += 1;
    const name = `Doors ${made}`;
    const created = await createWorkspace(server.portico.context.db, server.clock, { name, url: `http://doors-${made}.test:${port}`, defaultDoor: options.defaultDoor });
    if (!options.limits) return created;
    return updateWorkspace(server.portico.context.db, created.slug, { limits: options.limits });
  }

  async function signedInBrowser(workspace: Workspace, email: string): Promise<{ browser: HttpAgent; token: string }> {
    const browser = server.agent(workspace);
    const before = sink.mailsTo(email).length;
    expect((await browser.post('/magic-login', { email })).status).toBe(200);
    const token = tokenFromLink(linkFromMail((await sink.waitForMails(email, before + 1)).at(-1)!, workspace.url));
    expect((await browser.post('/magic-login/verify', { token })).status).toBe(303);
    return { browser, token };
  }

  describe('asking again within the cooldown', () => {
    it('says that a link was just sent and when another can be asked for, the same for known and unknown addresses apart from the address', async () => {
      const workspace = await workspaceWith({ limits: { limitEmailCooldown: '60s', limitEmailPerHour: '5' } });
      await server.addClient(workspace, 'known@example.com');
      const ask = (email: string) => server.agent(workspace).post('/magic-login', { email, next: '/invoices' });

      const [firstKnown, firstUnknown] = [await ask('known@example.com'), await ask('stranger@example.com')];
      expect(firstKnown.status).toBe(200);
      expect(firstKnown.body).toContain('a sign-in link is on its way');
      // The first answer also says when another can be asked for, in the text (no script needed).
      expect(firstKnown.body).toContain('You can ask for another link in <time datetime="PT60S">1 minute</time>.');
      expect(withoutAddress(firstUnknown.body, 'stranger@example.com')).toBe(withoutAddress(firstKnown.body, 'known@example.com'));

      server.clock.advance(20_000);
      const [againKnown, againUnknown] = [await ask('known@example.com'), await ask('stranger@example.com')];
      expect(againKnown.status).toBe(200);
      expect(againKnown.body).toContain('A sign-in link was just sent to <span class="account-email">known@example.com</span>');
      expect(againKnown.body).not.toContain('on its way');
      expect(againKnown.body).toContain('You can ask for another link in <time datetime="PT40S">40 seconds</time>.');
      expect(againKnown.body).toContain('data-countdown="40"');
      expect(againUnknown.status).toBe(againKnown.status);
      expect(withoutAddress(againUnknown.body, 'stranger@example.com')).toBe(withoutAddress(againKnown.body, 'known@example.com'));

      await sink.waitForMails('known@example.com', 1);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(sink.mailsTo('known@example.com')).toHaveLength(1);
      expect(sink.mailsTo('stranger@example.com')).toHaveLength(0);

      // Once the wait is over, a new link goes out, and the page says it is on its way.
      server.clock.advance(40_000);
      const later = await ask('known@example.com');
      expect(later.body).toContain('a sign-in link is on its way');
      await sink.waitForMails('known@example.com', 2);
    });

    it('of two requests for one address at the same moment, one is on its way and the other was just sent, with the same wait', async () => {
      const workspace = await workspaceWith({ limits: { limitEmailCooldown: '60s' } });
      await server.addClient(workspace, 'twice@example.com');
      const answers = await Promise.all([1, 2].map(() => server.agent(workspace).post('/magic-login', { email: 'twice@example.com' })));
      expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
      const onItsWay = answers.filter((answer) => answer.body.includes('a sign-in link is on its way'));
      const justSent = answers.filter((answer) => answer.body.includes('A sign-in link was just sent to'));
      expect([onItsWay.length, justSent.length]).toEqual([1, 1]);
      for (const answer of answers) expect(answer.body).toContain('data-countdown="60"');
      await sink.waitForMails('twice@example.com', 1);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(sink.mailsTo('twice@example.com')).toHaveLength(1);
    });

    it('counts down to the refill when the hourly bucket is empty, and the reset door shares the budget', async () => {
      const workspace = await workspaceWith({ limits: { limitEmailCooldown: '0', limitEmailPerHour: '2' } });
      const ask = (path: string) => server.agent(workspace).post(path, { email: 'bucket@example.com' });
      expect((await ask('/magic-login')).body).not.toContain('data-countdown=');
      expect((await ask('/forgot-password')).body).toContain('a link to reset its password is on its way');
      const empty = await ask('/forgot-password');
      expect(empty.body).toContain('A link to reset the password was just sent to');
      // 2 an hour: the next slot is 30 minutes after the first email.
      expect(empty.body).toContain('You can ask for another reset link in <time datetime="PT1800S">30 minutes</time>.');
      expect((await ask('/magic-login')).body).toContain('A sign-in link was just sent to');
    });
  });

  describe('the address goes along', () => {
    it('keeps the address under "check your email": another link for it, or a different address', async () => {
      const workspace = await workspaceWith();
      const sent = await server.agent(workspace).post('/magic-login', { email: 'keep@example.com', next: '/invoices/7' });
      expect(sent.body).toMatch(/<form method="post" action="\/magic-login">\s*<input type="hidden" name="email" value="keep@example.com">\s*<input type="hidden" name="next" value="\/invoices\/7">/);
      expect(sent.body).toContain('Send another link</button>');
      expect(sent.body).toContain('<a href="/magic-login?next=%2Finvoices%2F7">Use a different address</a>');

      const reset = await server.agent(workspace).post('/forgot-password', { email: 'keep@example.com' });
      expect(reset.body).toMatch(/<form method="post" action="\/forgot-password">\s*<input type="hidden" name="email" value="keep@example.com">/);
      expect(reset.body).toContain('<a href="/forgot-password">Use a different address</a>');
      expect(reset.body).toContain('href="/login?email=keep%40example.com"');
    });

    it('prefills each door from ?email= and links the others with it, never with a password', async () => {
      const workspace = await workspaceWith();
      const browser = server.agent(workspace);
      const email = 'carry@example.com';
      const login = await browser.get(`/login?email=${encodeURIComponent(email)}&next=%2Fx`);
      expect(login.body).toContain(`value="${email}"`);
      expect(login.body).toContain('href="/magic-login?email=carry%40example.com&amp;next=%2Fx"');
      expect(login.body).toContain('href="/forgot-password?email=carry%40example.com"');
      // The password form posts; nothing on it sends its fields in a URL.
      expect(login.body).not.toMatch(/formmethod="get"/i);

      const magic = await browser.get(`/magic-login?email=${encodeURIComponent(email)}`);
      expect(magic.body).toContain(`value="${email}"`);
      expect(magic.body).toContain('formaction="/login" formmethod="get"');
      expect(magic.body).toContain('Use my password instead');
      const forgot = await browser.get(`/forgot-password?email=${encodeURIComponent(email)}`);
      expect(forgot.body).toContain(`value="${email}"`);
      expect(forgot.body).toContain('formaction="/magic-login" formmethod="get"');
    });

    it('escapes a hostile address in a query and drops one that is too long', async () => {
      const workspace = await workspaceWith();
      const browser = server.agent(workspace);
      const hostile = '"><script>alert(1)</script>@example.com';
      for (const door of ['/login', '/magic-login', '/forgot-password']) {
        const page = await browser.get(`${door}?email=${encodeURIComponent(hostile)}`);
        expect(page.status).toBe(200);
        expect(page.body).not.toContain('<script>alert(1)');
        expect(page.body).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com"');
        const long = await browser.get(`${door}?email=${'a'.repeat(250)}%40example.com`);
        expect(long.status).toBe(200);
        expect(long.body).not.toContain('a'.repeat(250));
        const twice = await browser.get(`${door}?email=a%40example.com&email=b%40example.com`);
        expect(twice.status).toBe(200);
      }
    });
  });

  describe('a signed-in visitor', () => {
    it('sees "You are signed in as … — Continue" on /login and /magic-login, Continue following next under the usual rules', async () => {
      const workspace = await workspaceWith();
      await server.addClient(workspace, 'inside@example.com');
      const { browser } = await signedInBrowser(workspace, 'inside@example.com');
      for (const door of ['/login', '/magic-login']) {
        const page = await browser.get(door);
        expect(page.status).toBe(200);
        expect(page.body).toContain('You are signed in as <span class="account-email">inside@example.com</span>');
        expect(page.body).toContain('<a class="button" href="/">Continue</a>');
        expect(page.body).toContain(`<input type="hidden" name="then" value="${door}">`);
        expect(page.body).toContain('Sign in as someone else');
        expect(page.body).not.toContain('name="password"');
        expect((await browser.get(`${door}?next=%2Finvoices%3Fpage%3D2`)).body).toContain('href="/invoices?page=2">Continue</a>');
        expect((await browser.get(`${door}?next=${encodeURIComponent('//evil.example/')}`)).body).toContain('href="/">Continue</a>');
      }
      // An app asking for a fresh sign-in sends signed-in browsers here on purpose: the form, not the panel.
      const fresh = await browser.get(`/magic-login?next=${encodeURIComponent('/oidc/interaction/abc')}`);
      expect(fresh.body).not.toContain('You are signed in as');
      expect(fresh.body).toContain('name="email"');
      // A signed-out browser, and a cookie of another workspace, get the forms.
      expect((await server.agent(workspace).get('/login')).body).not.toContain('You are signed in as');
      const other = await workspaceWith();
      const planted = server.agent(other);
      for (const [name, value] of browser.cookies) planted.cookies.set(name, value);
      expect((await planted.get('/magic-login')).body).not.toContain('You are signed in as');
    });

    it('is offered the way on by a used link opened again, and only a signed-in browser is', async () => {
      const workspace = await workspaceWith();
      await server.addClient(workspace, 'again@example.com');
      const { browser, token } = await signedInBrowser(workspace, 'again@example.com');
      const opened = await browser.get(`/magic-login/verify?token=${token}`);
      expect(opened.status).toBe(410);
      expect(opened.body).toContain('already been used');
      expect(opened.body).toContain('You are signed in as <span class="account-email">again@example.com</span>');
      expect(opened.body).toContain('href="/">Continue</a>');
      const posted = await browser.post('/magic-login/verify', { token });
      expect(posted.status).toBe(410);
      expect(posted.body).toContain('You are signed in as');
      expect((await browser.get('/api/me')).status).toBe(200);

      const stranger = await server.agent(workspace).get(`/magic-login/verify?token=${token}`);
      expect(stranger.status).toBe(410);
      expect(stranger.body).not.toContain('You are signed in as');
      expect(stranger.body).toContain('Email me a new link');
    });

    it('signs in as someone else by signing out first, landing on the door it was on, and nowhere else', async () => {
      const workspace = await workspaceWith();
      await server.addClient(workspace, 'switch@example.com');
      const { browser } = await signedInBrowser(workspace, 'switch@example.com');
      const out = await browser.post('/logout', { then: '/magic-login?next=%2Finvoices' });
      expect(out.status).toBe(303);
      expect(out.headers.location).toBe('/magic-login?signed_out=1&next=%2Finvoices');
      expect((await browser.get('/api/me')).status).toBe(401);
      const door = await browser.get(out.headers.location!);
      expect(door.body).toContain('You are signed out.');
      expect(door.body).toContain('name="email"');

      for (const then of ['https://evil.example/', '//evil.example', '/account', '/magic-login?next=https%3A%2F%2Fevil.example']) {
        const again = (await signedInBrowser(workspace, 'switch@example.com')).browser;
        const landing = (await again.post('/logout', { then })).headers.location;
        expect(landing === '/login?signed_out=1' || landing === '/magic-login?signed_out=1').toBe(true);
      }
    });

    it('signs out to the workspace’s default door, saying so: a client without a password is not left on the password page', async () => {
      for (const [defaultDoor, door] of [['email', '/magic-login'], ['password', '/login']] as const) {
        const workspace = await workspaceWith({ defaultDoor });
        await server.addClient(workspace, 'leaving@example.com');
        const { browser } = await signedInBrowser(workspace, 'leaving@example.com');
        const out = await browser.post('/logout', {});
        expect([out.status, out.headers.location]).toEqual([303, `${door}?signed_out=1`]);
        expect((await browser.get(out.headers.location!)).body).toContain('You are signed out.');
        // Signing out everywhere from the account page lands there too.
        const again = (await signedInBrowser(workspace, 'leaving@example.com')).browser;
        expect((await again.post('/account/sessions/end-all', {})).headers.location).toBe(`${door}?signed_out=1`);
      }
    });
  });

  describe('at a 429', () => {
    it('keeps the /login form with the address (never the password), counts down, offers the email link, and keeps the status and Retry-After', async () => {
      const workspace = await workspaceWith({ limits: { limitIpPerMinute: '2' } });
      const browser = server.agent(workspace);
      const password = 'a secret never to be shown again';
      for (let attempt = 0; attempt < 2; attempt += 1) expect((await browser.post('/login', { email: 'typed@example.com', password })).status).toBe(401);
      const limited = await browser.post('/login', { email: 'typed@example.com', password, next: '/reports' });
      expect(limited.status).toBe(429);
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(limited.body).toContain('value="typed@example.com"');
      expect(limited.body).not.toContain(password);
      expect(limited.body).toContain(`You can try again in <time datetime="PT${retryAfter}S">`);
      expect(limited.body).toContain(`data-countdown="${retryAfter}"`);
      expect(limited.body).toContain('<input type="hidden" name="next" value="/reports">');
      expect(limited.body).toContain('href="/magic-login?email=typed%40example.com&amp;next=%2Freports"');
      expect(limited.body).toContain('action="/login"');
    });

    it('keeps the /magic-login form with the address and next, counts down, and offers the password', async () => {
      const workspace = await workspaceWith({ limits: { limitIpPerMinute: '2' } });
      const browser = server.agent(workspace);
      for (let attempt = 0; attempt < 2; attempt += 1) expect((await browser.post('/magic-login', { email: `other${attempt}@example.com` })).status).toBe(200);
      const limited = await browser.post('/magic-login', { email: '<b>x</b>@example.com', next: '/deep/link' });
      expect(limited.status).toBe(429);
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(limited.body).toContain('value="&lt;b&gt;x&lt;/b&gt;@example.com"');
      expect(limited.body).toContain('<input type="hidden" name="next" value="/deep/link">');
      expect(limited.body).toContain(`You can ask again in <time datetime="PT${retryAfter}S">`);
      // Nothing was sent: the person asked too often, so they may ask again (not "send it again").
      expect(limited.body).toContain('data-countdown-done="You can ask again now."');
      expect(limited.body).toContain('formaction="/login" formmethod="get"');
      expect(limited.body).toContain('Use my password instead');
    });

    it('keeps the /forgot-password form with the address and offers the email link', async () => {
      const workspace = await workspaceWith({ limits: { limitIpPerMinute: '1' } });
      const browser = server.agent(workspace);
      expect((await browser.post('/forgot-password', { email: 'first@example.com' })).status).toBe(200);
      const limited = await browser.post('/forgot-password', { email: 'again@example.com' });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.body).toContain('value="again@example.com"');
      expect(limited.body).toContain('formaction="/magic-login" formmethod="get"');
      expect(limited.body).toContain('You can ask again in');
      expect(limited.body).toContain('data-countdown-done="You can ask again now."');
    });

    it("counts down on an account's password throttle too", async () => {
      const workspace = await workspaceWith();
      const client = await server.addClient(workspace, 'throttled@example.com');
      await server.portico.context.db.updateTable('clients').set({ password_hash: await hashPassword('right horse battery staple') }).where('id', '=', client.id).execute();
      const browser = server.agent(workspace);
      let answer = await browser.post('/login', { email: 'throttled@example.com', password: 'wrong guess' });
      for (let attempt = 0; attempt < 10 && answer.status !== 429; attempt += 1) answer = await browser.post('/login', { email: 'throttled@example.com', password: 'wrong guess' });
      expect(answer.status).toBe(429);
      const retryAfter = Number(answer.headers['retry-after']);
      expect(answer.body).toContain('Too many failed attempts for this account.');
      expect(answer.body).toContain(`You can try again in <time datetime="PT${retryAfter}S">`);
      expect(answer.body).toContain('value="throttled@example.com"');
      expect(answer.body).not.toContain('wrong guess');
    });
  });

  describe('the default door', () => {
    it('sends a signed-out / to /magic-login unless the workspace chose the password, and /login works as ever', async () => {
      const emailFirst = await workspaceWith();
      const home = await server.agent(emailFirst).get('/');
      expect(home.status).toBe(303);
      expect(home.headers.location).toBe('/magic-login');
      expect((await server.agent(emailFirst).get('/account')).headers.location).toBe('/magic-login?next=%2Faccount');
      const door = await server.agent(emailFirst).get('/magic-login');
      expect(door.body).toContain('Use my password instead');

      const passwordFirst = await workspaceWith({ defaultDoor: 'password' });
      const toLogin = await server.agent(passwordFirst).get('/');
      expect(toLogin.status).toBe(303);
      expect(toLogin.headers.location).toBe('/login');
      expect((await server.agent(passwordFirst).get('/account')).headers.location).toBe('/login?next=%2Faccount');
      const login = await server.agent(emailFirst).get('/login');
      expect(login.status).toBe(200);
      expect(login.body).toContain('name="password"');
      expect(login.body).toContain('Email me a sign-in link');
    });
  });
});
