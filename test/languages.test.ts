import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/api-keys/api-keys.js';
import { findClientById } from '../src/clients/clients.js';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { createWorkspace, updateWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import { issuedSecrets } from './helpers/issued-secrets.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { TestClock } from './helpers/test-clock.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

/*
 * issue 18 item 2: a client reads pages in its browser's language (Accept-Language among those
 * shipped, else the workspace's), and mail in the language of the browser that asked for it; with
 * no browser behind a mail (the admin API), in the client's last language: the language of the
 * browser it last signed in from, never of one that merely asked for a link.
 */

const german = { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' };
const english = { 'accept-language': 'en-US,en;q=0.9' };

describe.each(testDialects)('languages, on %s', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let port: string;
  let made = 0;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect, smtpUrl: sink.url, clock: new TestClock({ frozen: true, atTopOfHour: true }) });
    port = new URL(server.portico.address).port;
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  /** A workspace of its own per test, its language and limits set before its first request. */
  async function workspaceWith(options: { locale?: string; ttl?: string; limits?: Record<string, string> } = {}): Promise<Workspace> {
    made += 1;
    const db = server.portico.context.db;
    let workspace = await createWorkspace(db, server.clock, { name: `Sprachen ${made}`, url: `http://sprachen-${made}.test:${port}`, magicLinkTtl: options.ttl });
    if (options.limits) workspace = await updateWorkspace(db, workspace.slug, { limits: options.limits });
    if (options.locale) await db.updateTable('workspaces').set({ locale: options.locale }).where('id', '=', workspace.id).execute();
    return { ...workspace, locale: options.locale ?? workspace.locale };
  }

  it('answers a German browser in German, with lang, Content-Language and Vary, and any other in English', async () => {
    const workspace = await workspaceWith();
    const inGerman = await server.agent(workspace).get('/magic-login', { headers: german });
    expect(inGerman.status).toBe(200);
    expect(inGerman.body).toContain('<html lang="de">');
    expect(inGerman.body).toContain('<h1>Mit einem Link per E-Mail anmelden</h1>');
    expect(inGerman.body).toContain('<title>Anmelden · Sprachen');
    expect(inGerman.body).toContain('Anmeldung über Portico');
    expect(inGerman.body).not.toContain('Email me a sign-in link');
    expect(inGerman.headers['content-language']).toBe('de');
    expect(String(inGerman.headers.vary)).toMatch(/accept-language/i);

    // de-AT is German too; nothing at all is the workspace's English.
    expect((await server.agent(workspace).get('/login', { headers: { 'accept-language': 'de-AT' } })).body).toContain('<h1>Bei Sprachen');
    const plain = await server.agent(workspace).get('/magic-login');
    expect(plain.body).toContain('<html lang="en">');
    expect(plain.body).toContain('<h1>Sign in with an email link</h1>');
    expect(plain.headers['content-language']).toBe('en');
  });

  it("gives a browser whose languages are not shipped the workspace's language", async () => {
    const workspace = await workspaceWith({ locale: 'de' });
    const japanese = await server.agent(workspace).get('/forgot-password', { headers: { 'accept-language': 'ja-JP,ja;q=0.9' } });
    expect(japanese.body).toContain('<html lang="de">');
    expect(japanese.body).toContain('<h1>Passwort zurücksetzen</h1>');
    // A shipped language the browser prefers still wins over the workspace's.
    expect((await server.agent(workspace).get('/forgot-password', { headers: { 'accept-language': 'en-GB' } })).body).toContain('<h1>Reset your password</h1>');
    // Error pages too: a 404 on this workspace, in its language.
    const missing = await server.agent(workspace).get('/nowhere', { headers: { 'accept-language': 'ja' } });
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('<h1>Seite nicht gefunden</h1>');
  });

  it('mails a sign-in link asked for from a German browser in German, and a later admin API link for that client too', async () => {
    const workspace = await workspaceWith();
    const client = await server.addClient(workspace, 'lena@example.com', 'Lena Vogel');
    const browser = server.agent(workspace);
    const sent = await browser.post('/magic-login', { email: 'lena@example.com' }, { headers: german });
    expect(sent.status).toBe(200);
    expect(sent.body).toContain('Wenn <span class="account-email">lena@example.com</span> zu einem Konto bei Sprachen');
    expect(sent.body).toContain('15 Minuten lang gültig');

    const [mail] = await sink.waitForMails('lena@example.com', 1);
    expect(mail!.subject).toBe(`Bei ${workspace.name} anmelden`);
    expect(mail!.text).toContain('Guten Tag Lena Vogel,');
    expect(mail!.text).toContain(`Hier ist Ihr Link zur Anmeldung bei ${workspace.name}:`);
    expect(mail!.text).toMatch(/^Ihr Code: [0-9]{5} [0-9]{5}$/m);
    expect(mail!.text).toContain('15 Minuten lang gültig');
    expect(mail!.html).toContain('<html lang="de">');
    expect(mail!.html).toContain(`Hier ist Ihr Link zur Anmeldung bei <strong>${workspace.name}</strong>.`);
    expect(mail!.html).toContain('Falls die Schaltfläche nicht funktioniert');
    expect(mail!.raw).toMatch(/^Content-Language: de\r?$/m);
    // The link it carries works as ever, and the sign-in notes the language of the browser it was made in.
    expect((await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, workspace.url)) }, { headers: german })).status).toBe(303);
    expect((await findClientById(server.portico.context.db, workspace.id, client.id))?.last_locale).toBe('de');

    // No browser asks for the admin API's link: it goes out in the client's last language.
    const { key } = await createApiKey(server.portico.context.db, server.clock, workspace, { name: 'crm' });
    issuedSecrets.add(key);
    const api = await server.agent(workspace).request(`/api/v1/clients/${client.id}/sign-in-link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(api.status, api.body).toBe(202);
    const [, second] = await sink.waitForMails('lena@example.com', 2);
    expect(second!.subject).toBe(`Bei ${workspace.name} anmelden`);
    expect(second!.text).toContain('Der Link funktioniert einmal und ist 15 Minuten lang gültig.');
    expect(second!.text).not.toMatch(/Ihr Code/);
    expect(second!.html).toContain('<html lang="de">');
  });

  it("mails a client who never signed in in the workspace's language, and one who signed in from an English browser in English", async () => {
    const workspace = await workspaceWith({ locale: 'de' });
    const client = await server.addClient(workspace, 'jonas@example.com');
    const { key } = await createApiKey(server.portico.context.db, server.clock, workspace, { name: 'crm' });
    issuedSecrets.add(key);
    const viaApi = () =>
      server.agent(workspace).request(`/api/v1/clients/${client.id}/sign-in-link`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
    expect((await viaApi()).status).toBe(202);
    const [first] = await sink.waitForMails('jonas@example.com', 1);
    expect(first!.subject).toBe(`Bei ${workspace.name} anmelden`);
    expect(first!.text).toContain('Guten Tag,');

    const browser = server.agent(workspace);
    expect((await browser.post('/magic-login', { email: 'jonas@example.com' }, { headers: english })).status).toBe(200);
    const [, second] = await sink.waitForMails('jonas@example.com', 2);
    expect(second!.subject).toBe(`Sign in to ${workspace.name}`);
    expect(second!.raw).toMatch(/^Content-Language: en\r?$/m);
    expect((await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(second!, workspace.url)) }, { headers: english })).status).toBe(303);
    // And from then on, the admin API's link follows the English the client last signed in from.
    expect((await viaApi()).status).toBe(202);
    const [, , third] = await sink.waitForMails('jonas@example.com', 3);
    expect(third!.subject).toBe(`Sign in to ${workspace.name}`);
  });

  // Asking for a link is open to anyone, for any address: the asker's language goes into that mail
  // alone, never into the client's later mail (before, the worker noted it as the client's last).
  it('keeps the language of the browser a client signed in from, whatever language a stranger asks for its links in', async () => {
    // The workspace speaks German: a sign-in that noted nothing would leave the API's link German.
    const workspace = await workspaceWith({ locale: 'de' });
    const client = await server.addClient(workspace, 'mara@example.com', 'Mara Lind');
    const password = 'quiet harbour lantern seventeen';
    await server.portico.context.db.updateTable('clients').set({ password_hash: await hashPassword(password) }).where('id', '=', client.id).execute();
    const { key } = await createApiKey(server.portico.context.db, server.clock, workspace, { name: 'crm' });
    issuedSecrets.add(key);
    const viaApi = () =>
      server.agent(workspace).request(`/api/v1/clients/${client.id}/sign-in-link`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });

    expect((await server.agent(workspace).post('/login', { email: 'mara@example.com', password }, { headers: english })).status).toBe(303);
    // A stranger's German browser asks for a link to Mara: that mail is in German, and goes out.
    expect((await server.agent(workspace).post('/magic-login', { email: 'mara@example.com' }, { headers: german })).status).toBe(200);
    const [asked] = await sink.waitForMails('mara@example.com', 1);
    expect(asked!.subject).toBe(`Bei ${workspace.name} anmelden`);
    // Mara's next link from the admin API is still in the English she signed in with.
    expect((await viaApi()).status).toBe(202);
    const [, fromApi] = await sink.waitForMails('mara@example.com', 2);
    expect(fromApi!.subject).toBe(`Sign in to ${workspace.name}`);
    expect(fromApi!.raw).toMatch(/^Content-Language: en\r?$/m);

    // Mara herself signs in from a German browser, with the code: the API's next link is German.
    const laptop = server.agent(workspace);
    expect((await laptop.post('/magic-login', { email: 'mara@example.com' }, { headers: german })).status).toBe(200);
    const [, , own] = await sink.waitForMails('mara@example.com', 3);
    const code = /^Ihr Code: ([0-9]{5} [0-9]{5})$/m.exec(own!.text)?.[1] ?? 'no code in the German mail';
    expect((await laptop.post('/magic-login/code', { code }, { headers: german })).status).toBe(303);
    expect((await viaApi()).status).toBe(202);
    const [, , , next] = await sink.waitForMails('mara@example.com', 4);
    expect(next!.subject).toBe(`Bei ${workspace.name} anmelden`);
    expect(next!.raw).toMatch(/^Content-Language: de\r?$/m);
  });

  it('shows the account page in German: plurals of how long ago, dates in German, the sign-in method', async () => {
    const workspace = await workspaceWith();
    await server.addClient(workspace, 'konto@example.com');
    const browser = server.agent(workspace);
    await browser.post('/magic-login', { email: 'konto@example.com' }, { headers: german });
    const [mail] = await sink.waitForMails('konto@example.com', 1);
    expect((await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, workspace.url)) }, { headers: german })).status).toBe(303);
    server.clock.advance(5 * 60_000);
    const account = await browser.get('/account', { headers: german });
    expect(account.body).toContain('<h1>Konto und Sicherheit</h1>');
    expect(account.body).toContain('Link per E-Mail<br>');
    expect(account.body).toContain('>vor 5 Minuten</time>');
    expect(account.body).toMatch(/title="\d{1,2}\. [A-ZÄÖÜ][a-zäöü]+ \d{4}/);
    // The tests' user agent names no browser bowser knows.
    expect(account.body).toContain('aria-label="Unbekannter Browser abmelden (dieser Browser)"');
  });

  it("sends an invitation from the admin API in the workspace's language", async () => {
    const workspace = await workspaceWith({ locale: 'de' });
    const { key } = await createApiKey(server.portico.context.db, server.clock, workspace, { name: 'crm' });
    issuedSecrets.add(key);
    const answer = await server.agent(workspace).request('/api/v1/invitations', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'neu@example.com', name: 'Mia' }),
    });
    expect(answer.status, answer.body).toBe(202);
    const [mail] = await sink.waitForMails('neu@example.com', 1);
    expect(mail!.subject).toBe(`Sie sind zu ${workspace.name} eingeladen`);
    expect(mail!.text).toContain('Der Link funktioniert einmal und ist 7 Tage lang gültig.');
    expect(mail!.html).toMatch(/<a href="[^"]+"[^>]*>Einladung annehmen<\/a>/);
  });

  it('counts down in German, and says a 429 in German', async () => {
    const workspace = await workspaceWith({ limits: { limitEmailCooldown: '60s', limitEmailPerHour: '5', limitIpPerMinute: '2', limitIpRedemptionsPer5Minutes: '1' } });
    const browser = server.agent(workspace);
    const again = await browser.post('/magic-login', { email: 'wer@example.com' }, { headers: german });
    expect(again.body).toContain('Sie können in <time datetime="PT60S">1 Minute</time> einen weiteren Link anfordern.');
    expect(again.body).toContain('data-countdown-done="Sie können jetzt einen weiteren Link anfordern."');
    expect(again.body).toContain('data-countdown-locale="de"');

    // Over the per-IP limit: the door's form again, in German, counting down.
    await browser.post('/magic-login', { email: 'wer@example.com' }, { headers: german });
    const limited = await browser.post('/magic-login', { email: 'wer@example.com' }, { headers: german });
    expect(limited.status).toBe(429);
    expect(limited.body).toContain('Zu viele Anfragen aus Ihrem Netzwerk. Ihre Adresse bleibt unten eingetragen.');
    expect(limited.body).toMatch(/Sie können die Anfrage in <time datetime="PT\d+S">\d+ (Sekunden|Sekunde|Minute)<\/time> erneut senden\./);
    expect(limited.headers['content-language']).toBe('de');

    // A door without a form to keep: the plain page, in German, with how long to wait.
    const token = 'A'.repeat(43);
    await browser.post('/magic-login/verify', { token }, { headers: german });
    const tooMany = await browser.post('/magic-login/verify', { token }, { headers: german });
    expect(tooMany.status).toBe(429);
    expect(tooMany.body).toContain('<h1>Zu viele Versuche</h1>');
    expect(tooMany.body).toMatch(/Versuchen Sie es in \d+ (Minuten|Minute|Sekunden) erneut\./);
  });

  it.each([
    ['en', '1m', 'This link works once and stays valid for 1 minute.'],
    ['en', '2m', 'This link works once and stays valid for 2 minutes.'],
    ['de', '1m', 'Der Link funktioniert einmal und ist 1 Minute lang gültig.'],
    ['de', '2m', 'Der Link funktioniert einmal und ist 2 Minuten lang gültig.'],
  ])('writes plurals in the language: %s, a link of %s', async (locale, ttl, sentence) => {
    const workspace = await workspaceWith({ ttl });
    const email = `plural-${made}@example.com`;
    await server.addClient(workspace, email);
    // Asked through the admin API, the link carries no code: the mail says the link's lifetime in one sentence.
    await server.portico.context.db.updateTable('clients').set({ last_locale: locale }).where('email_normalized', '=', email).execute();
    const { key } = await createApiKey(server.portico.context.db, server.clock, workspace, { name: 'crm' });
    issuedSecrets.add(key);
    const client = (await server.portico.context.db.selectFrom('clients').select('id').where('email_normalized', '=', email).executeTakeFirstOrThrow()).id;
    const answer = await server.agent(workspace).request(`/api/v1/clients/${client}/sign-in-link`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}' });
    expect(answer.status, answer.body).toBe(202);
    const [mail] = await sink.waitForMails(email, 1);
    expect(mail!.text).toContain(sentence);
  });

  it('says why a password is refused in German, zxcvbn warning included', async () => {
    const workspace = await workspaceWith();
    await server.addClient(workspace, 'passwort@example.com');
    const browser = server.agent(workspace);
    expect((await browser.post('/forgot-password', { email: 'passwort@example.com' }, { headers: german })).status).toBe(200);
    const [mail] = await sink.waitForMails('passwort@example.com', 1);
    expect(mail!.subject).toBe(`Ihr Passwort für ${workspace.name} zurücksetzen`);
    const token = tokenFromLink(linkFromMail(mail!, workspace.url));
    const short = await browser.post('/reset-password', { token, password: 'zu kurz' }, { headers: german });
    expect(short.status).toBe(400);
    expect(short.body).toContain('Verwenden Sie mindestens 15 Zeichen (dieses hat 7).');
    const common = await browser.post('/reset-password', { token, password: 'password1234567' }, { headers: german });
    expect(common.body).toContain('Dies weist Ähnlichkeit zu anderen oft verwendeten Passwörtern auf.');
    expect(common.body).toContain('Wählen Sie etwas weniger Vorhersehbares');
    expect((await browser.post('/reset-password', { token, password: 'Leuchtturm wandert über stille Dünen' }, { headers: german })).status).toBe(303);
    // The notice that the password changed, in the language of the browser that changed it.
    const [, notice] = await sink.waitForMails('passwort@example.com', 2);
    expect(notice!.subject).toBe(`Ihr Passwort für ${workspace.name} wurde geändert`);
    expect(notice!.html).toMatch(/<a href="[^"]+\/magic-login" style="color:#1d4ed8;">melden Sie sich mit einem Link an, den wir an diese Adresse senden<\/a>/);
  });
});
