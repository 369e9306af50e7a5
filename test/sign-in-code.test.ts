import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import type { HttpAgent } from './helpers/http-agent.js';
import { codeFromMail, linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';
import { TestClock } from './helpers/test-clock.js';

// issue 17 item 1: a one-time code beside the link, typed in the browser that asked for the email.
describe.each(testDialects)('sign-in codes on %s', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let acme: Workspace;
  let globex: Workspace;
  let workspaceCount = 0;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    // The caps count in hourly windows: start at the top of an hour so none turns over mid-test.
    server = await startTestPortico({
      dialect,
      smtpUrl: sink.url,
      clock: new TestClock({ atTopOfHour: true }),
      env: { SIGN_IN_CODE_KEY: 'a test key that is long enough to be a secret', LIMIT_CODE_GUESSES_PER_CLIENT_PER_HOUR: '20', LIMIT_CODE_GUESSES_PER_IP_PER_HOUR: '30' },
    });
    acme = await server.createWorkspace('Acme');
    globex = await server.createWorkspace('Globex');
  });

  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  /** A workspace of its own, for a test that counts guesses from this machine's one IP. */
  async function freshWorkspace(): Promise<Workspace> {
    workspaceCount += 1;
    return server.createWorkspace(`Caps${workspaceCount}`);
  }

  /** Asks for a sign-in email as `agent`; its link, code and token, read from the mail that arrived. */
  async function ask(agent: HttpAgent, email: string, workspace: Workspace, form: Record<string, string> = {}) {
    const before = sink.mailsTo(email).length;
    const page = await agent.post('/magic-login', { email, ...form });
    expect(page.status).toBe(200);
    const mails = await sink.waitForMails(email, before + 1);
    const mail = mails[mails.length - 1]!;
    const link = linkFromMail(mail, workspace.url);
    return { page, mail, link, token: tokenFromLink(link), code: codeFromMail(mail) };
  }

  /** Another wrong code of the same shape. */
  function wrongCodeFor(code: string, index = 0): string {
    const digits = code.replace(' ', '');
    const wrong = String((Number(digits) + 1 + index) % 10 ** 10).padStart(10, '0');
    return `${wrong.slice(0, 5)} ${wrong.slice(5)}`;
  }

  const signedInAs = async (agent: HttpAgent) => {
    const me = await agent.get('/api/me');
    return me.status === 200 ? (me.json() as { client: { email: string } }).client.email : null;
  };

  it('mails a code beside the link; typed in the browser that asked, it signs in as the link does', async () => {
    await server.addClient(acme, 'ada@example.com', 'Ada Lovelace');
    const browser = server.agent(acme);
    const { page, mail, link, code } = await ask(browser, 'ada@example.com', acme, { next: '/invoices/7?tab=pdf' });
    // The contract's format: after the word "code", 6 to 10 digits or capitals in groups.
    expect(mail.text).toMatch(/^Your code: [0-9]{5} [0-9]{5}$/m);
    expect(mail.text.split('\n')).toContain(link);
    expect(mail.text).toContain('15 minutes');
    expect(mail.html).toContain(code);
    // The "check your email" page holds the form: labelled, numeric keypad, one-time-code autofill.
    expect(page.body).toContain('action="/magic-login/code"');
    expect(page.body).toMatch(/<label for="code">[^<]+<\/label>/);
    expect(page.body).toMatch(/<input id="code" name="code" type="text"[^>]* inputmode="numeric" autocomplete="one-time-code"/);
    expect(page.body).toContain('<input type="hidden" name="next" value="/invoices/7?tab=pdf">');

    const signIn = await browser.post('/magic-login/code', { code, next: '/invoices/7?tab=pdf' });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.location).toBe('/invoices/7?tab=pdf');
    expect(String(signIn.headers['set-cookie'])).toMatch(/portico_session=[^;]+;.*HttpOnly/i);
    expect(await signedInAs(browser)).toBe('ada@example.com');
    const events = await server.portico.context.db.selectFrom('events').select(['type', 'detail']).where('workspace_id', '=', acme.id).where('email', '=', 'ada@example.com').orderBy('id').execute();
    expect(events.map((event) => event.type)).toEqual(['magic_link.requested', 'magic_link.sent', 'magic_link.used', 'session.started']);
    expect(JSON.parse(events[2]!.detail!)).toEqual({ with: 'code' });
  });

  it('reads a pasted code whatever its separators, spaces and case', async () => {
    await server.addClient(acme, 'paste@example.com');
    for (const shape of [(code: string) => code.replace(' ', ''), (code: string) => ` ${code.replace(' ', '-')} `, (code: string) => code.replace(' ', '').replace(/(...)/g, '$1 ')]) {
      const browser = server.agent(acme);
      const { code } = await ask(browser, 'paste@example.com', acme);
      expect((await browser.post('/magic-login/code', { code: shape(code) })).status).toBe(303);
      expect(await signedInAs(browser)).toBe('paste@example.com');
    }
  });

  it('answers a wrong code with the form again (400), the same for known and unknown addresses; a typo leaves the code usable', async () => {
    await server.addClient(acme, 'typo@example.com');
    const known = server.agent(acme);
    const unknown = server.agent(acme);
    const { code } = await ask(known, 'typo@example.com', acme);
    const unknownPage = await unknown.post('/magic-login', { email: 'nobody-here@example.com' });
    expect(unknownPage.body).toContain('action="/magic-login/code"');
    const wrongAtKnown = await known.post('/magic-login/code', { code: wrongCodeFor(code) });
    const wrongAtUnknown = await unknown.post('/magic-login/code', { code: wrongCodeFor(code) });
    expect(wrongAtKnown.status).toBe(400);
    expect(wrongAtUnknown.status).toBe(400);
    const withoutNonce = (body: string) => body.replace(/nonce="[^"]+"/g, '');
    expect(withoutNonce(wrongAtUnknown.body)).toBe(withoutNonce(wrongAtKnown.body));
    expect(wrongAtKnown.body).toContain('That code is not right');
    expect(wrongAtKnown.body).toMatch(/<input id="code"[^>]* aria-invalid="true"/);
    // What was typed stays in the field, to correct a slip.
    expect(wrongAtKnown.body).toContain(`value="${wrongCodeFor(code)}"`);
    expect(await signedInAs(known)).toBeNull();
    expect((await known.post('/magic-login/code', { code })).status).toBe(303);
  });

  it('names the shape of a code that cannot be one, with a 400 and never a 500', async () => {
    const browser = server.agent(acme);
    for (const typed of ['', '12345', 'not a code', '1'.repeat(500), '<script>']) {
      const response = await browser.post('/magic-login/code', { code: typed });
      expect(response.status).toBe(400);
      expect(response.body).toContain('Enter the 10-digit code from the email');
      expect(response.body).not.toContain('<script>');
    }
    // Kept in the field as typed, escaped, and no longer than the field takes.
    expect((await browser.post('/magic-login/code', { code: '<script>' })).body).toContain('value="&lt;script&gt;"');
    expect((await browser.post('/magic-login/code', { code: '1'.repeat(500) })).body).toContain(`value="${'1'.repeat(40)}"`);
    expect((await browser.post('/magic-login/code', { code: ['12345 67890', '12345 67890'] })).status).toBe(400);
  });

  it("answers another browser's right code exactly as a wrong one, and takes no guess from it; the code still works where it was asked for", async () => {
    await server.addClient(acme, 'laptop@example.com');
    const laptop = server.agent(acme);
    const { code } = await ask(laptop, 'laptop@example.com', acme);
    // A browser that asked for nothing, and one that asked for an address of its own.
    // (A right code told apart from a wrong one, anywhere but in the asking browser, would let
    // anyone guess it from browsers that take no guess from its caps, then type it there.)
    const wrongCode = code === '0000000000' ? '1111111111' : '0000000000';
    for (const [index, stranger] of [server.agent(acme), server.agent(acme)].entries()) {
      if (index === 1) await stranger.post('/magic-login', { email: 'someone-else@example.com' });
      const refused = await stranger.post('/magic-login/code', { code });
      const wrong = await stranger.post('/magic-login/code', { code: wrongCode });
      expect(refused.status).toBe(400);
      // Each page keeps what was typed in the field; apart from that, not a byte differs.
      const comparable = (body: string, typed: string) => body.replace(/nonce="[^"]*"/g, 'nonce=""').replace(`value="${typed}"`, 'value="TYPED"');
      expect(refused.body).toContain(`value="${code}"`);
      expect(comparable(refused.body, code)).toBe(comparable(wrong.body, wrongCode));
      expect(refused.body).not.toContain('laptop@example.com');
      expect(await signedInAs(stranger)).toBeNull();
    }
    const withoutCookie = await server.agent(acme).post('/magic-login/code', { code });
    expect(withoutCookie.status).toBe(400);
    expect((await laptop.post('/magic-login/code', { code })).status).toBe(303);
  });

  it("refuses a code at another workspace's address, even with the asking browser's cookie", async () => {
    await server.addClient(acme, 'both@example.com');
    await server.addClient(globex, 'both@example.com');
    const atAcme = server.agent(acme);
    const { code } = await ask(atAcme, 'both@example.com', acme);
    const atGlobex = server.agent(globex);
    for (const [name, value] of atAcme.cookies) atGlobex.cookies.set(name, value);
    const refused = await atGlobex.post('/magic-login/code', { code });
    expect(refused.status).toBe(400);
    expect(await signedInAs(atGlobex)).toBeNull();
    expect((await atAcme.post('/magic-login/code', { code })).status).toBe(303);
  });

  it('ends the code when the link is used, and the link when the code is', async () => {
    await server.addClient(acme, 'either@example.com');
    const browser = server.agent(acme);
    const first = await ask(browser, 'either@example.com', acme);
    expect((await browser.post('/magic-login/verify', { token: first.token })).status).toBe(303);
    const codeAfterLink = await browser.post('/magic-login/code', { code: first.code });
    expect(codeAfterLink.status).toBe(410);
    expect(codeAfterLink.body).toContain('already been used');
    expect(codeAfterLink.body).toContain('href="/magic-login"');

    const other = server.agent(acme);
    const second = await ask(other, 'either@example.com', acme);
    expect((await other.post('/magic-login/code', { code: second.code })).status).toBe(303);
    const linkAfterCode = await server.agent(acme).post('/magic-login/verify', { token: second.token });
    expect(linkAfterCode.status).toBe(410);
    expect(linkAfterCode.body).toContain('already been used');
  });

  it('accepts the code of an older email, which ends the newer link and code', async () => {
    await server.addClient(acme, 'older@example.com');
    const browser = server.agent(acme);
    const older = await ask(browser, 'older@example.com', acme);
    const newer = await ask(browser, 'older@example.com', acme);
    expect(newer.code).not.toBe(older.code);
    expect((await browser.post('/magic-login/code', { code: older.code })).status).toBe(303);
    const newerCode = await browser.post('/magic-login/code', { code: newer.code });
    expect(newerCode.status).toBe(410);
    expect(newerCode.body).toContain('no longer works');
    expect((await server.agent(acme).post('/magic-login/verify', { token: newer.token })).status).toBe(410);
  });

  it('signs in once when right codes arrive at the same moment', async () => {
    await server.addClient(acme, 'twice@example.com');
    const browser = server.agent(acme);
    const first = await ask(browser, 'twice@example.com', acme);
    const second = await ask(browser, 'twice@example.com', acme);
    // Tabs of one browser: they share its cookies.
    const tabs = Array.from({ length: 6 }, () => {
      const tab = server.agent(acme);
      for (const [name, value] of browser.cookies) tab.cookies.set(name, value);
      return tab;
    });
    const answers = await Promise.all(tabs.map((tab, index) => tab.post('/magic-login/code', { code: index % 2 ? first.code : second.code })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([303, 410, 410, 410, 410, 410]);
    const signedIn = await Promise.all(tabs.map(signedInAs));
    expect(signedIn.filter((email) => email === 'twice@example.com')).toHaveLength(1);
    const sessions = await server.portico.context.db.selectFrom('sessions').innerJoin('clients', 'clients.id', 'sessions.client_id').select('sessions.id_hash').where('clients.email', '=', 'twice@example.com').execute();
    expect(sessions).toHaveLength(1);
  });

  it('refuses a code once its link has expired', async () => {
    const quick = await server.createWorkspace('Quick', { ttl: '2m' });
    await server.addClient(quick, 'late@example.com');
    const browser = server.agent(quick);
    const { code } = await ask(browser, 'late@example.com', quick);
    server.clock.advance(2 * 60_000 + 1_000);
    const late = await browser.post('/magic-login/code', { code });
    expect(late.status).toBe(410);
    expect(late.body).toContain('expired');
    expect(await signedInAs(browser)).toBeNull();
  });

  it('kills a code after 10 wrong guesses, even sent at once; its link still works', async () => {
    const workspace = await freshWorkspace();
    await server.addClient(workspace, 'guessed@example.com');
    const attacker = server.agent(workspace);
    const { code, token } = await ask(attacker, 'guessed@example.com', workspace);
    const wrong = await Promise.all(Array.from({ length: 14 }, (_, index) => attacker.post('/magic-login/code', { code: wrongCodeFor(code, index) })));
    expect(wrong.map((answer) => answer.status)).toEqual(wrong.map(() => 400));
    const dead = await attacker.post('/magic-login/code', { code });
    expect(dead.status).toBe(410);
    expect(dead.body).toContain('Too many wrong codes');
    expect(dead.body).toContain('href="/magic-login"');
    expect(await signedInAs(attacker)).toBeNull();
    expect((await attacker.post('/magic-login/verify', { token })).status).toBe(303);
  });

  it('caps guesses at a client across browsers (20 an hour): over it, even the right code is answered as wrong', async () => {
    const workspace = await freshWorkspace();
    await server.addClient(workspace, 'target@example.com');
    const browsers = [server.agent(workspace), server.agent(workspace), server.agent(workspace)];
    const asked = [];
    for (const browser of browsers) asked.push(await ask(browser, 'target@example.com', workspace));
    // 9 + 9 + 2: no code reaches its own cap of 10, the client's 20 are spent.
    for (const [index, count] of [9, 9, 2].entries()) {
      for (let guess = 0; guess < count; guess += 1) {
        expect((await browsers[index]!.post('/magic-login/code', { code: wrongCodeFor(asked[index]!.code, guess) })).status).toBe(400);
      }
    }
    const right = await browsers[2]!.post('/magic-login/code', { code: asked[2]!.code });
    expect(right.status).toBe(400);
    expect(right.body).toContain('That code is not right');
    expect(await signedInAs(browsers[2]!)).toBeNull();
    // The link is a 256-bit secret, not capped: the client still gets in.
    expect((await browsers[2]!.post('/magic-login/verify', { token: asked[2]!.token })).status).toBe(303);
  });

  it('counts a guess once for every code it is compared with: three pending codes in one browser spend the cap three times as fast', async () => {
    const workspace = await freshWorkspace();
    await server.addClient(workspace, 'thrice@example.com');
    const browser = server.agent(workspace);
    const asked = [];
    for (let mail = 0; mail < 3; mail += 1) asked.push(await ask(browser, 'thrice@example.com', workspace));
    // 7 wrong guesses, each compared with the three codes: 21 comparisons, over the client's 20
    // (and no code at its own 10). Counted per guess, they would leave 13 places and the right code
    // would sign in.
    for (let guess = 0; guess < 7; guess += 1) {
      expect((await browser.post('/magic-login/code', { code: wrongCodeFor(asked[2]!.code, guess + 100) })).status).toBe(400);
    }
    const right = await browser.post('/magic-login/code', { code: asked[0]!.code });
    expect(right.status).toBe(400);
    expect(await signedInAs(browser)).toBeNull();
    expect((await browser.post('/magic-login/verify', { token: asked[2]!.token })).status).toBe(303);
  });

  it('caps guesses per IP (30 an hour): then 429 with Retry-After, known or unknown address alike', async () => {
    const workspace = await freshWorkspace();
    await server.addClient(workspace, 'ip@example.com');
    const known = server.agent(workspace);
    const { code } = await ask(known, 'ip@example.com', workspace);
    const unknown = server.agent(workspace);
    await unknown.post('/magic-login', { email: 'nobody-ip@example.com' });
    for (let guess = 0; guess < 30; guess += 1) {
      expect((await unknown.post('/magic-login/code', { code: wrongCodeFor(code, guess) })).status).toBe(400);
    }
    for (const agent of [unknown, known]) {
      const limited = await agent.post('/magic-login/code', { code });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(await signedInAs(known)).toBeNull();
  });

  it('keeps codes out of the database: only their keyed hashes', async () => {
    await server.addClient(acme, 'hashed@example.com');
    const { code } = await ask(server.agent(acme), 'hashed@example.com', acme);
    const rows = await server.portico.context.db.selectFrom('magic_links').innerJoin('clients', 'clients.id', 'magic_links.client_id').select('magic_links.code_hash').where('clients.email', '=', 'hashed@example.com').execute();
    expect(rows).toHaveLength(1);
    const stored = rows[0]!.code_hash!;
    expect(stored).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(code.replace(' ', ''));
    const { createHash } = await import('node:crypto');
    // Not a plain hash: without the key, trying every code against the database finds nothing.
    expect(stored).not.toBe(createHash('sha256').update(code.replace(' ', '')).digest('base64url'));
  });
});
