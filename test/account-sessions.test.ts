import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableClient } from '../src/clients/clients.js';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { hashSecretToken } from '../src/crypto/tokens.js';
import { inviteClient } from '../src/magic-links/invite-client.js';
import { purgeExpiredRecords } from '../src/maintenance/purge-expired.js';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import type { HttpAgent } from './helpers/http-agent.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// Issue 17 item 2: the account page had only "sign out everywhere" (this browser included, without
// asking), listed sessions without how or when they began, and a browser signed out from elsewhere
// was never told why.

const day = 24 * 3600_000;
const password = 'velvet otter climbs quiet harbor';
const newPassword = 'marble kettle whispers over dunes';
const chromeOnMac = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const safariOnIphone =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

describe.each(testDialects)('the account page and remote sign-outs on %s', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  let counter = 0;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect, smtpUrl: sink.url });
    workspace = await server.createWorkspace('Harbour');
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  async function newClient(withPassword = false) {
    const email = `acct${(counter += 1)}@example.com`;
    const client = await server.addClient(workspace, email, `Account ${counter}`);
    if (withPassword) await server.portico.context.db.updateTable('clients').set({ password_hash: await hashPassword(password) }).where('id', '=', client.id).execute();
    return { email, client };
  }

  async function byLink(email: string, userAgent = chromeOnMac, onWorkspace = workspace): Promise<HttpAgent> {
    const browser = server.agent(onWorkspace);
    const before = sink.mailsTo(email).length;
    await browser.post('/magic-login', { email }, { headers: { 'user-agent': userAgent } });
    const mails = await sink.waitForMails(email, before + 1);
    const token = tokenFromLink(linkFromMail(mails[mails.length - 1]!, onWorkspace.url));
    expect((await browser.post('/magic-login/verify', { token }, { headers: { 'user-agent': userAgent } })).status).toBe(303);
    return browser;
  }

  async function byPassword(email: string, secret = password): Promise<HttpAgent> {
    const browser = server.agent(workspace);
    expect((await browser.post('/login', { email, password: secret })).status).toBe(303);
    return browser;
  }

  /** What a browser reads on the sign-in page it is sent to. */
  async function signInPageOf(browser: HttpAgent, path = '/login'): Promise<string> {
    return (await browser.get(path)).body;
  }

  const told = /You were signed out because[^<]*/;

  it('lists this browser first, marked, with how and when each session signed in and its device', async () => {
    const { email } = await newClient(true);
    const phone = await byLink(email, safariOnIphone);
    server.clock.advance(3 * day);
    const laptop = await byPassword(email);
    const page = (await laptop.get('/account')).body;
    const rows = page.split('<tr').filter((row) => row.includes('name="session"'));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('This browser');
    expect(rows[0]).toContain('Password');
    expect(rows[0]).toContain('Just now');
    expect(rows[1]).not.toContain('This browser');
    expect(rows[1]).toContain('Safari 17 on iPhone (iOS)');
    expect(rows[1]).toContain('Email link');
    expect(rows[1]).toContain('3 days ago');
    // The phone's view: it is first there.
    const phoneRows = (await phone.get('/account')).body.split('<tr').filter((row) => row.includes('name="session"'));
    expect(phoneRows[0]).toContain('This browser');
    expect(phoneRows[0]).toContain('Safari 17');
  });

  it('records an invitation as the way its session began', async () => {
    const email = `invitee${(counter += 1)}@example.com`;
    await inviteClient(server.portico.context, workspace, { email });
    const [mail] = await sink.waitForMails(email, 1);
    const browser = server.agent(workspace);
    expect((await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, workspace.url)) })).status).toBe(303);
    expect((await browser.get('/account')).body).toMatch(/This browser<\/span><\/td>\s*<td>Invitation<br>/);
  });

  it('signs out every other session and keeps this one, and tells the others why, once', async () => {
    const { email } = await newClient(true);
    const here = await byLink(email);
    const phone = await byLink(email, safariOnIphone);
    const tablet = await byPassword(email);
    const account = (await here.get('/account')).body;
    expect(account).toContain('<form method="post" action="/account/sessions/end-others"><button type="submit" class="secondary">Sign out other sessions</button></form>');

    const ended = await here.post('/account/sessions/end-others', {});
    expect(ended.status).toBe(303);
    expect(ended.headers.location).toBe('/account?ended=others');
    expect((await here.get('/api/me')).status).toBe(200);
    expect((await phone.get('/api/me')).status).toBe(401);
    expect((await tablet.get('/api/me')).status).toBe(401);
    expect((await here.get('/account?ended=others')).body).toContain('Every other browser is signed out. This one stays signed in.');

    // The phone opens a page: sent to sign in (the workspace's default door), and told why there.
    expect((await phone.get('/account')).headers.location).toBe('/magic-login?next=%2Faccount');
    const first = await phone.get('/magic-login?next=%2Faccount');
    expect(first.body.match(told)?.[0]).toBe('You were signed out because “Sign out other sessions” was used in another browser.');
    // Told once: the dead cookie is cleared with it.
    expect(String(first.headers['set-cookie'])).toMatch(/portico_session=;/);
    expect(await signInPageOf(phone)).not.toMatch(told);
    // The tablet lands on the password door and is told there too.
    expect((await signInPageOf(tablet, '/login')).match(told)?.[0]).toContain('Sign out other sessions');
    // With no other session left, the page offers no "Sign out other sessions".
    expect((await here.get('/account')).body).not.toContain('action="/account/sessions/end-others"');
  });

  it('asks before signing out everywhere, which then ends this browser too; the others are told why', async () => {
    const { email } = await newClient();
    const here = await byLink(email);
    const other = await byLink(email, safariOnIphone);
    const account = (await here.get('/account')).body;
    // A link to a confirmation page, not a button that ends everything at once.
    expect(account).toContain('<a class="button secondary" href="/account/sign-out-everywhere">Sign out everywhere…</a>');
    expect(account).not.toContain('action="/account/sessions/end-all"');

    const confirm = await here.get('/account/sign-out-everywhere');
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('<h1>Sign out everywhere?</h1>');
    expect(confirm.body).toContain('this one included');
    expect(confirm.body).toContain('<form method="post" action="/account/sessions/end-all"><button type="submit">Sign out everywhere</button></form>');
    expect(confirm.body).toContain('<a href="/account">Cancel</a>');
    // Opening the confirmation ends nothing.
    expect((await here.get('/api/me')).status).toBe(200);
    expect((await other.get('/api/me')).status).toBe(200);

    const ended = await here.post('/account/sessions/end-all', {});
    expect(ended.headers.location).toBe('/magic-login?signed_out=1');
    expect((await here.get('/api/me')).status).toBe(401);
    expect((await other.get('/api/me')).status).toBe(401);
    // This browser chose it and reads "You are signed out."; only the other one is told why.
    expect(await signInPageOf(here, '/magic-login?signed_out=1')).not.toMatch(told);
    expect((await signInPageOf(other)).match(told)?.[0]).toBe('You were signed out because “Sign out everywhere” was used in another browser.');
  });

  it('sends a signed-out visitor of the confirmation page to sign in', async () => {
    const response = await server.agent(workspace).get('/account/sign-out-everywhere');
    expect(response.status).toBe(303);
    expect(response.headers.location).toBe('/login?next=%2Faccount');
  });

  it('tells a browser signed out by one row of another browser\'s account page', async () => {
    const { email } = await newClient();
    const here = await byLink(email);
    const other = await byLink(email, safariOnIphone);
    const rows = (await here.get('/account')).body.split('<tr').filter((row) => row.includes('Safari'));
    const id = /name="session" value="([^"]+)"/.exec(rows[0]!)![1]!;
    expect((await here.post('/account/sessions/end', { session: id })).status).toBe(303);
    expect((await signInPageOf(other)).match(told)?.[0]).toBe('You were signed out because this browser was signed out from another one, on the account page.');
    expect((await here.get('/api/me')).status).toBe(200);
  });

  it('tells the other browsers of a password change, a reset and a disabled client why they were signed out', async () => {
    const changed = await newClient(true);
    const changer = await byPassword(changed.email);
    const elsewhere = await byLink(changed.email);
    expect((await changer.post('/account/password', { current_password: password, new_password: newPassword })).status).toBe(303);
    expect((await signInPageOf(elsewhere)).match(told)?.[0]).toBe('You were signed out because the password of this account was changed.');

    const reset = await newClient(true);
    const before = await byLink(reset.email);
    await server.agent(workspace).post('/forgot-password', { email: reset.email });
    const mails = await sink.waitForMails(reset.email, 2);
    const resetToken = new URL(/http\S+reset-password\?token=\S+/.exec(mails[mails.length - 1]!.text)![0]).searchParams.get('token')!;
    expect((await server.agent(workspace).post('/reset-password', { token: resetToken, password: newPassword })).status).toBe(303);
    expect((await signInPageOf(before)).match(told)?.[0]).toBe('You were signed out because the password of this account was reset.');

    const disabled = await newClient();
    const browser = await byLink(disabled.email);
    await disableClient(server.portico.context, server.clock, workspace, disabled.email);
    expect((await signInPageOf(browser)).match(told)?.[0]).toBe('You were signed out because this account was disabled. Contact the people who run this portal.');
  });

  it('says nothing to a browser whose session merely expired, nor to a made-up or another workspace\'s cookie', async () => {
    const { email } = await newClient();
    const idle = await byLink(email);
    server.clock.advance(7 * day + 60_000);
    expect((await idle.get('/api/me')).status).toBe(401);
    expect(await signInPageOf(idle)).not.toMatch(told);

    const planted = server.agent(workspace);
    planted.cookies.set('portico_session', 'A'.repeat(43));
    expect(await signInPageOf(planted)).not.toMatch(told);

    // A session of another workspace, ended from elsewhere: its cookie carried to this workspace's address says nothing there.
    const neighbour = await server.createWorkspace(`Neighbour ${dialect}`);
    const neighbourEmail = `neighbour${(counter += 1)}@example.com`;
    await server.addClient(neighbour, neighbourEmail);
    const there = await byLink(neighbourEmail, chromeOnMac, neighbour);
    const alsoThere = await byLink(neighbourEmail, safariOnIphone, neighbour);
    expect((await alsoThere.post('/account/sessions/end-others', {})).status).toBe(303);
    const carried = server.agent(workspace);
    carried.cookies.set('portico_session', there.cookies.get('portico_session')!);
    expect(await signInPageOf(carried)).not.toMatch(told);
    // On its own workspace it is still told.
    expect(await signInPageOf(there)).toMatch(told);
  });

  it('never ends another client\'s session, whatever id is posted', async () => {
    const victim = await newClient();
    const victimBrowser = await byLink(victim.email);
    const attacker = await newClient();
    const attackerBrowser = await byLink(attacker.email);
    const victimId = hashSecretToken(victimBrowser.cookies.get('portico_session')!);
    expect((await attackerBrowser.post('/account/sessions/end', { session: victimId })).status).toBe(303);
    expect((await attackerBrowser.post('/account/sessions/end-others', {})).status).toBe(303);
    expect((await victimBrowser.get('/api/me')).status).toBe(200);
    expect(await signInPageOf(victimBrowser)).not.toMatch(told);
  });

  it('refuses "sign out other sessions" and "sign out everywhere" posted from another site', async () => {
    const { email } = await newClient();
    const here = await byLink(email);
    const other = await byLink(email, safariOnIphone);
    for (const path of ['/account/sessions/end-others', '/account/sessions/end-all']) {
      const forged = await here.post(path, {}, { headers: { origin: 'http://evil.test', 'sec-fetch-site': 'cross-site' } });
      expect(forged.status).toBe(403);
    }
    expect((await here.get('/api/me')).status).toBe(200);
    expect((await other.get('/api/me')).status).toBe(200);
  });

  it('leaves no third session alive when two browsers sign out the others at the same moment', async () => {
    const { email } = await newClient();
    const first = await byLink(email);
    const second = await byLink(email, safariOnIphone);
    const third = await byLink(email);
    const answers = await Promise.all([first.post('/account/sessions/end-others', {}), second.post('/account/sessions/end-others', {})]);
    expect(answers.map((answer) => answer.status)).toEqual([303, 303]);
    expect((await third.get('/api/me')).status).toBe(401);
    // Each asked for every session but its own: at most one of the two survives the other's request.
    const alive = [(await first.get('/api/me')).status, (await second.get('/api/me')).status].filter((status) => status === 200);
    expect(alive.length).toBeLessThanOrEqual(1);
    expect(await signInPageOf(third)).toMatch(told);
  });

  it('forgets the note of an ended session once that session would have expired', async () => {
    const { email } = await newClient();
    const here = await byLink(email);
    const other = await byLink(email);
    const otherHash = hashSecretToken(other.cookies.get('portico_session')!);
    expect((await here.post('/account/sessions/end-others', {})).status).toBe(303);
    const notes = () => server.portico.context.db.selectFrom('ended_sessions').select(['id_hash', 'reason']).where('id_hash', '=', otherHash).execute();
    expect(await notes()).toEqual([{ id_hash: otherHash, reason: 'signed_out_others' }]);
    const retention = { sessionIdleTimeoutMs: 7 * day, emailCooldownMs: 0, eventsRetentionMs: 365 * day };
    await purgeExpiredRecords(server.portico.context.db, server.clock.now() + 29 * day, retention);
    expect(await notes()).toHaveLength(1);
    await purgeExpiredRecords(server.portico.context.db, server.clock.now() + 30 * day, retention);
    expect(await notes()).toEqual([]);
    // The note holds no session: the ended session's row is gone, not kept.
    expect(await server.portico.context.db.selectFrom('sessions').select('id_hash').where('id_hash', '=', otherHash).execute()).toEqual([]);
  });
});
