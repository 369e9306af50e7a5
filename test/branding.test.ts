import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueMail } from '../src/mail/outbox.js';
import { addApp } from '../src/apps/apps.js';
import { updateWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// Issue 18 items 1 and 3: a workspace's logo, colours, sender, reply-to and support address reach
// its pages and mail, from every instance sharing the database; nothing a workspace sets can write
// markup or styles of its own.

const pngLogo = readFileSync(new URL('../assets/demo-logo.png', import.meta.url));
const jpegLogo = readFileSync(new URL('./fixtures/branding/logo.jpg', import.meta.url));
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A GET over loopback with a workspace's `Host`, keeping the body as bytes (the agent reads text). */
function getBytes(serverAddress: string, workspaceUrl: string, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL(path, serverAddress), { headers: { host: new URL(workspaceUrl).host } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
  });
}

/** The text of the page's one `<style>` element. */
function styleOf(html: string): string {
  expect(html.match(/<style\b/g), 'one style element').toHaveLength(1);
  expect(html.match(/<\/style>/g), 'closed once').toHaveLength(1);
  return /<style nonce="[^"]+">([\s\S]*?)<\/style>/.exec(html)![1]!;
}

describe.each(testDialects)('branding on %s', (dialect) => {
  let sink: SmtpSink;
  let first: TestPortico;
  let second: TestPortico;
  let acme: Workspace;
  let globex: Workspace;
  let plain: Workspace;

  /** Forgets cached workspaces on both instances after a change written here rather than through the CLI. */
  const forget = () => [first, second].forEach((server) => server.portico.context.workspaces.forget());

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    first = await startTestPortico({ dialect, smtpUrl: sink.url });
    // A second instance on the same database, as behind a load balancer.
    second = await startTestPortico({ dialect, smtpUrl: sink.url, database: first.database, clock: first.clock });
    const db = first.portico.context.db;
    acme = await updateWorkspace(db, (await first.createWorkspace('Acme')).slug, {
      logo: { bytes: pngLogo, fileName: 'acme.png' },
      accentColor: '#0f766e',
      mailFrom: '"Acme, Inc." <hello@acme.example>',
      replyTo: 'team@acme.example',
      supportEmail: 'help@acme.example',
    });
    // The same picture as Acme's, and a second one: each workspace keeps its own copy.
    globex = await updateWorkspace(db, (await first.createWorkspace('Globex')).slug, { logo: { bytes: pngLogo, fileName: 'globex.png' } });
    globex = await updateWorkspace(db, globex.slug, { logo: { bytes: jpegLogo, fileName: 'globex.jpg' } });
    plain = await first.createWorkspace('Plain');
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  it('serves the logo from every instance, with its type and a year of caching, and 404 for another workspace or an unknown hash', async () => {
    expect(acme.logo_hash).toBe(sha256(pngLogo));
    for (const server of [first, second]) {
      const answer = await getBytes(server.portico.address, acme.url, `/assets/logo-${sha256(pngLogo)}`);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('image/png');
      expect(answer.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      // Mail programs show it from their own origin.
      expect(answer.headers['cross-origin-resource-policy']).toBe('cross-origin');
      expect(answer.body.equals(pngLogo)).toBe(true);

      const jpeg = await getBytes(server.portico.address, globex.url, `/assets/logo-${sha256(jpegLogo)}`);
      expect([jpeg.status, jpeg.headers['content-type'], jpeg.body.equals(jpegLogo)]).toEqual([200, 'image/jpeg', true]);
      // Globex's earlier logo stays served: mails already sent still show it.
      expect((await getBytes(server.portico.address, globex.url, `/assets/logo-${sha256(pngLogo)}`)).status).toBe(200);

      for (const [workspace, path] of [
        [acme, `/assets/logo-${sha256(jpegLogo)}`],
        [plain, `/assets/logo-${sha256(pngLogo)}`],
        [acme, `/assets/logo-${'0'.repeat(64)}`],
        [acme, '/assets/logo-not-a-hash'],
      ] as const) {
        const missing = await getBytes(server.portico.address, workspace.url, path);
        expect(missing.status, `${workspace.slug} ${path}`).toBe(404);
        expect(missing.headers['cache-control']).toBe('no-store');
        expect(missing.headers['content-type']).toMatch(/^text\/html/);
      }
    }
  });

  it('reads a logo from the database once per instance, then serves it from memory: it never changes under its hash', async () => {
    const cached = await updateWorkspace(first.portico.context.db, (await first.createWorkspace('Cached')).slug, { logo: { bytes: jpegLogo, fileName: 'cached.jpg' } });
    const path = `/assets/logo-${sha256(jpegLogo)}`;
    expect((await getBytes(first.portico.address, cached.url, path)).status).toBe(200);
    // The row goes behind both instances' backs: the one that read it still serves it, the other never read it.
    await first.portico.context.db.deleteFrom('workspace_logos').where('workspace_id', '=', cached.id).execute();
    const again = await getBytes(first.portico.address, cached.url, path);
    expect([again.status, again.headers['content-type'], again.body.equals(jpegLogo)]).toEqual([200, 'image/jpeg', true]);
    expect((await getBytes(second.portico.address, cached.url, path)).status).toBe(404);
  });

  it('draws pages in the workspace colours, as custom properties in the nonce’d style, with the logo beside the name', async () => {
    const page = await first.agent(acme).get('/magic-login');
    const style = styleOf(page.body);
    expect(style).toContain('--accent:#0f766e;--accent-ink:#ffffff;--accent-text:#0f766e');
    expect(style).toMatch(/@media \(prefers-color-scheme:dark\)\{:root\{[^}]*--accent:#[0-9a-f]{6}/);
    expect(page.body).toContain(`<a href="/"><img class="brand-logo" src="/assets/logo-${sha256(pngLogo)}" alt=""><span>Acme</span></a>`);

    const unbranded = await second.agent(plain).get('/magic-login');
    expect(styleOf(unbranded.body)).toContain('--accent:#1d4ed8');
    expect(unbranded.body).not.toContain('class="brand-logo"');
  });

  it('names the support address as a mailto link where someone is stuck, and nowhere else', async () => {
    const agent = first.agent(acme);
    const support = '<a href="mailto:help@acme.example">help@acme.example</a>';
    expect((await agent.get('/no-such-page')).body).toContain(support);
    // A URL the router cannot read is refused before the workspace is looked up: still its page.
    const unreadable = await agent.get('/%');
    expect(unreadable.status).toBe(400);
    expect(unreadable.body).toContain(support);
    expect(styleOf(unreadable.body)).toContain('--accent:#0f766e');
    const usedLink = await agent.post('/magic-login/verify', { token: 'x'.repeat(43) });
    expect(usedLink.status).toBeGreaterThanOrEqual(400);
    expect(usedLink.body).toContain(support);
    expect((await agent.get('/magic-login')).body).not.toContain('mailto:');
    expect((await first.agent(plain).get('/no-such-page')).body).not.toContain('mailto:');

    // A door over its per-IP limit: the form comes back with a countdown, and the address beside it.
    const limited = await updateWorkspace(first.portico.context.db, (await first.createWorkspace('Limited')).slug, {
      supportEmail: 'help@limited.example',
      limits: { limitIpPerMinute: '1' },
    });
    const door = first.agent(limited);
    await door.post('/magic-login', { email: 'someone@example.com' });
    const refused = await door.post('/magic-login', { email: 'someone@example.com' });
    expect(refused.status).toBe(429);
    expect(refused.body).toContain('<a href="mailto:help@limited.example">help@limited.example</a>');

    // An app's sign-in request that cannot be used: oidc-provider's error on Portico's page, in the
    // workspace's colours and with its support address, like every other page.
    const { app } = await addApp(first.portico.context.db, first.clock, acme, { name: 'Portal', redirectUris: ['https://app.acme.example/callback'] });
    const appError = await agent.get(`/oidc/auth?client_id=${app.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://evil.example/')}`);
    expect(appError.status).toBe(400);
    expect(appError.body).toContain(support);
    expect(styleOf(appError.body)).toContain('--accent:#0f766e');
  });

  it('sends mail from the workspace’s sender with its reply-to, logo and colours; the text part stays plain', async () => {
    await first.addClient(acme, 'ada@example.com', 'Ada');
    const response = await first.agent(acme).post('/magic-login', { email: 'ada@example.com' });
    expect(response.status).toBeLessThan(400);
    const [mail] = await sink.waitForMails('ada@example.com');
    const parsed = await simpleParser(mail!.raw);
    expect(parsed.from?.value).toEqual([{ name: 'Acme, Inc.', address: 'hello@acme.example' }]);
    expect(parsed.replyTo?.value).toEqual([{ name: '', address: 'team@acme.example' }]);
    const logoUrl = `${acme.url}/assets/logo-${sha256(pngLogo)}`;
    expect(mail!.html).toContain(`<img src="${logoUrl}" alt="Acme"`);
    expect(mail!.html).toContain('background:#0f766e;color:#ffffff;');
    expect(mail!.html).not.toContain('#1d4ed8');
    expect(mail!.text).not.toMatch(/<|assets\/logo|#0f766e/);
    // The logo's address in the mail answers.
    expect((await getBytes(first.portico.address, acme.url, new URL(logoUrl).pathname)).status).toBe(200);
  });

  it('still sends a mail queued by an earlier version: its sender, else the configured one, in today’s branding', async () => {
    const db = first.portico.context.db;
    const now = first.clock.now();
    const queued = (workspace: Workspace, recipient: string, from: string | null) =>
      enqueueMail(db, now, {
        workspaceId: workspace.id,
        template: 'password-changed',
        recipient,
        payload: { workspaceName: workspace.name, clientName: '', signInUrl: `${workspace.url}/magic-login`, from },
        giveUpAt: now + 3_600_000,
      });
    await queued(plain, 'old-sender@example.com', 'Old Sender <old@plain.example>');
    await queued(plain, 'no-sender@example.com', null);
    await queued(acme, 'acme-queued@example.com', null);
    first.portico.context.notifyMailQueued();
    const [oldSender] = await sink.waitForMails('old-sender@example.com');
    expect((await simpleParser(oldSender!.raw)).from?.value).toEqual([{ name: 'Old Sender', address: 'old@plain.example' }]);
    expect(oldSender!.html).toContain('color:#1d4ed8;');
    const [noSender] = await sink.waitForMails('no-sender@example.com');
    expect((await simpleParser(noSender!.raw)).from?.text).toBe(first.config.mailFrom.replace(/^Portico /, '"Portico" '));
    const [acmeQueued] = await sink.waitForMails('acme-queued@example.com');
    expect((await simpleParser(acmeQueued!.raw)).from?.value[0]?.address).toBe('hello@acme.example');
    expect(acmeQueued!.html).toContain('color:#0f766e;');
  });

  it('lets nothing a workspace holds write markup or styles, even values written to the database behind the CLI’s back', async () => {
    const hostile = '</style><script>alert(1)</script>"\'<img src=x onerror=alert(1)>';
    const db = first.portico.context.db;
    const victim = await updateWorkspace(db, (await first.createWorkspace('Victim')).slug, { name: hostile });
    await db
      .updateTable('workspaces')
      .set({ accent_color: 'red;}</style><script>alert(2)</script>', support_email: '"><script>alert(3)</script>@x.example', logo_hash: '"><script>alert(4)</script>' })
      .where('id', '=', victim.id)
      .execute();
    forget();
    for (const path of ['/magic-login', '/no-such-page']) {
      const page = await first.agent(victim).get(path);
      expect(page.body).not.toMatch(/<script>alert|<img src=x/);
      expect(page.body).toContain('&lt;/style&gt;&lt;script&gt;alert(1)');
      const style = styleOf(page.body);
      expect(style).toContain('--accent:#1d4ed8');
      expect(style).not.toMatch(/alert\(|<|red;/);
      // A logo hash that is not one shows no logo rather than an address built from it.
      expect(page.body).not.toContain('class="brand-logo"');
    }
    await first.addClient(victim, 'victim@example.com');
    await first.agent(victim).post('/magic-login', { email: 'victim@example.com' });
    const [mail] = await sink.waitForMails('victim@example.com');
    expect(mail!.html).not.toMatch(/<script>alert|<img src=x|red;/);
  });
});
