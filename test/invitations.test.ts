import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { inviteClient } from '../src/magic-links/invite-client.js';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// Issue 17 item 2: an invitation link showed the warning meant for strangers' links ("if someone
// sent you this link, do not use it"), its email button said "Sign in", and setting a password
// from it ended on the portal with no word that it worked.

const day = 24 * 3600_000;
const strangerWarning = 'If someone sent you this link, do not use it';
const password = 'velvet otter climbs quiet harbor';

describe.each(testDialects)('invitations on %s', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  let counter = 0;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect, smtpUrl: sink.url });
    workspace = await server.createWorkspace('Acme');
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  async function invited(name = 'Ada Lovelace') {
    const email = `invited${(counter += 1)}@example.com`;
    await inviteClient(server.portico.context, workspace, { email, name });
    const [mail] = await sink.waitForMails(email, 1);
    const link = linkFromMail(mail!, workspace.url);
    return { email, mail: mail!, link, token: tokenFromLink(link), path: new URL(link).pathname + new URL(link).search };
  }

  it('mails an "Accept invitation" button, and the link opens its own page, without the strangers\' warning', async () => {
    const { email, mail, path } = await invited();
    expect(mail.html).toMatch(/<a href="[^"]+"[^>]*>Accept invitation<\/a>/);
    expect(mail.html).not.toContain('>Sign in to Acme</a>');
    expect(mail.text).toContain('Open this link to accept your invitation:');

    const browser = server.agent(workspace);
    const page = await browser.get(path);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>Accept your invitation to Acme</h1>');
    expect(page.body).toContain(`<p class="account-email">${email}</p>`);
    expect(page.body).toContain('Ada Lovelace, you are invited to Acme as');
    expect(page.body).not.toContain(strangerWarning);
    // Still a button press: no script sends the form, and opening the page signs nobody in.
    expect(page.body).toContain('<button type="submit" class="full">Accept invitation</button>');
    expect(page.body).not.toContain('<script');
    expect(page.headers['referrer-policy']).toBe('strict-origin');
    expect((await browser.get('/api/me')).status).toBe(401);
  });

  it('signs in once with the button, lands on the welcome page, and the link is then used', async () => {
    const { email, token, path } = await invited();
    const browser = server.agent(workspace);
    const accepted = await browser.post('/magic-login/verify', { token });
    expect(accepted.status).toBe(303);
    expect(accepted.headers.location).toBe('/welcome');
    expect((await browser.get('/api/me')).json()).toMatchObject({ client: { email } });

    const again = await server.agent(workspace).post('/magic-login/verify', { token });
    expect(again.status).toBe(410);
    expect(again.body).toContain('This invitation has already been used');
    expect(again.body).toContain('href="/magic-login"');
    const reopened = await server.agent(workspace).get(path);
    expect(reopened.status).toBe(410);
    expect(reopened.body).toContain('This invitation has already been used');
  });

  it('expires after 7 days, and says so as an invitation', async () => {
    const { token, path } = await invited();
    server.clock.advance(7 * day + 1000);
    const page = await server.agent(workspace).get(path);
    expect(page.status).toBe(410);
    expect(page.body).toContain('This invitation has expired');
    const post = await server.agent(workspace).post('/magic-login/verify', { token });
    expect(post.status).toBe(410);
    expect((await server.agent(workspace).get('/api/me')).status).toBe(401);
  });

  it('keeps the strangers\' warning on an everyday link, even one that goes on to /welcome', async () => {
    const email = `everyday${(counter += 1)}@example.com`;
    await server.addClient(workspace, email);
    // Asked by one browser, opened in another: the case the warning is for.
    await server.agent(workspace).post('/magic-login', { email, next: '/welcome' });
    const [mail] = await sink.waitForMails(email, 1);
    expect(mail!.html).not.toContain('Accept invitation');
    const link = linkFromMail(mail!, workspace.url);
    const page = await server.agent(workspace).get(new URL(link).pathname + new URL(link).search);
    expect(page.body).toContain(strangerWarning);
    expect(page.body).not.toContain('Accept your invitation');
  });

  it('says nothing about another workspace\'s invitation, and a cross-site POST cannot use one', async () => {
    const { token, path } = await invited();
    const elsewhere = await server.createWorkspace(`Other ${dialect}`);
    const foreign = await server.agent(elsewhere).get(path);
    expect(foreign.status).toBe(404);
    expect(foreign.body).toContain('This sign-in link is not valid');
    expect(foreign.body).not.toContain('invitation');

    const forged = await server.agent(workspace).post('/magic-login/verify', { token }, { headers: { origin: 'http://evil.test', 'sec-fetch-site': 'cross-site' } });
    expect(forged.status).toBe(403);
    // Not used by the refused POST: the invited person can still accept it.
    expect((await server.agent(workspace).post('/magic-login/verify', { token })).status).toBe(303);
  });

  it('ends setting a password on a confirmation with Continue, and goes on only to a path of this workspace', async () => {
    const { email, token } = await invited();
    const browser = server.agent(workspace);
    await browser.post('/magic-login/verify', { token });
    // Before any password is set, the confirmation is not shown for the asking.
    const early = await browser.get('/welcome?password=set');
    expect(early.body).not.toContain('Your password is set');
    expect(early.body).toContain('action="/account/password"');

    const set = await browser.post('/account/password', { new_password: password, next: '/invoices?year=2025' });
    expect(set.status).toBe(303);
    expect(set.headers.location).toBe('/welcome?password=set&next=%2Finvoices%3Fyear%3D2025');
    const done = await browser.get(set.headers.location!);
    expect(done.body).toContain('<h1>Your password is set</h1>');
    expect(done.body).toContain(`as <span class="account-email">${email}</span>`);
    expect(done.body).toContain('<a class="button" href="/invoices?year=2025">Continue</a>');
    expect((await browser.get('/api/me')).status).toBe(200);

    for (const hostile of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      const page = await browser.get(`/welcome?password=set&next=${encodeURIComponent(hostile)}`);
      expect(page.body).toContain('<a class="button" href="/">Continue</a>');
    }
  });

  it('keeps the wrong password on the welcome page as a form error the person can act on', async () => {
    const { token } = await invited();
    const browser = server.agent(workspace);
    await browser.post('/magic-login/verify', { token });
    const weak = await browser.post('/account/password', { new_password: 'short', next: '/' });
    expect(weak.status).toBe(400);
    expect(weak.body).toContain('role="alert"');
    expect(weak.body).not.toContain('Your password is set');
    // A client who already has a password (invited again) just continues.
    const { email, token: second } = await invited();
    await server.portico.context.db.updateTable('clients').set({ password_hash: await hashPassword(password) }).where('email', '=', email).execute();
    const other = server.agent(workspace);
    await other.post('/magic-login/verify', { token: second });
    const welcome = await other.get('/welcome');
    expect(welcome.body).toContain('<a class="button" href="/">Continue</a>');
  });
});
