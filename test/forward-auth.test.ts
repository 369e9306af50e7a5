import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import { HttpAgent, type HttpResponse } from './helpers/http-agent.js';
import { runPorticoCommand } from './helpers/portico-process.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// Issue 16: `GET /auth/forward` answers a reverse proxy's question before each request to an app
// with no sign-in of its own. Here the test plays the proxy, sending its headers itself; the real
// Caddy and nginx are in test/forward-auth-proxies.test.ts.

const browserPage = { accept: 'text/html,application/xhtml+xml,application/xhtml+xml;q=0.9,*/*;q=0.8' };
const apiCall = { accept: 'application/json' };

/** What `portico client add --json` printed. */
interface AddedClient {
  id: string;
  email: string;
  name: string;
}

/** The `X-Portico-*` headers of an answer, and only those. */
function porticoHeaders(response: HttpResponse): Record<string, unknown> {
  return Object.fromEntries(Object.entries(response.headers).filter(([name]) => name.startsWith('x-portico-')));
}

/** Where a redirect to sign in goes: the origin and path, and the `next` it carries (null when none). */
function signInTarget(response: HttpResponse): { page: string; next: string | null } {
  expect(response.status).toBe(302);
  const location = new URL(response.headers.location!);
  return { page: `${location.origin}${location.pathname}`, next: location.searchParams.get('next') };
}

async function addClientByCommand(server: TestPortico, workspace: Workspace, email: string, name?: string): Promise<AddedClient> {
  const args = ['client', 'add', '--workspace', workspace.slug, '--email', email, ...(name === undefined ? [] : ['--name', name]), '--json'];
  const result = await runPorticoCommand(args, { DATABASE_URL: server.database.url });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as AddedClient;
}

async function signIn(server: TestPortico, sink: SmtpSink, workspace: Workspace, email: string, storedEmail = email): Promise<HttpAgent> {
  const browser = server.agent(workspace);
  const before = sink.mailsTo(storedEmail).length;
  expect((await browser.post('/magic-login', { email })).status).toBe(200);
  const mails = await sink.waitForMails(storedEmail, before + 1);
  const token = tokenFromLink(linkFromMail(mails[mails.length - 1]!, workspace.url));
  expect((await browser.post('/magic-login/verify', { token })).status).toBe(303);
  return browser;
}

describe.each(testDialects)('GET /auth/forward behind a trusted proxy on %s (issue 16)', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  let other: Workspace;
  let clea: AddedClient;
  let nameless: AddedClient;
  let counter = 0;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect, smtpUrl: sink.url, env: { TRUST_PROXY: '127.0.0.1' } });
    workspace = await server.createWorkspace('Files Portal');
    other = await server.createWorkspace('Other Portal');
    clea = await addClientByCommand(server, workspace, 'Clea.Dupont@example.com', 'Cléa Dupont');
    nameless = await addClientByCommand(server, workspace, 'nameless@example.com');
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  /** The proxy's headers for a visitor's `GET {workspace}/files/report.pdf`. */
  function forwarded(target: Workspace, extra: Record<string, string> = {}): Record<string, string> {
    return { 'x-forwarded-method': 'GET', 'x-forwarded-host': new URL(target.url).host, 'x-forwarded-proto': 'http', 'x-forwarded-uri': '/files/report.pdf', ...extra };
  }

  /** A fresh client of the workspace, signed in in its own browser. */
  async function signedInClient(target = workspace): Promise<{ email: string; browser: HttpAgent }> {
    const email = `visitor${(counter += 1)}@example.com`;
    await server.addClient(target, email);
    return { email, browser: await signIn(server, sink, target, email) };
  }

  describe('a signed-out visitor', () => {
    it('opening a page is sent to the magic-link sign-in, to come back to where it was going', async () => {
      const visitor = server.agent(workspace);
      for (const navigation of [browserPage, { 'sec-fetch-mode': 'navigate' }]) {
        const response = await visitor.get('/auth/forward', { headers: { ...forwarded(workspace), ...navigation } });
        expect(signInTarget(response)).toEqual({ page: `${workspace.url}/magic-login`, next: '/files/report.pdf' });
        expect(porticoHeaders(response)).toEqual({});
      }
    });

    it('keeps the query of the page, and sends a HEAD navigation to sign in too', async () => {
      const visitor = server.agent(workspace);
      const response = await visitor.get('/auth/forward', { headers: { ...forwarded(workspace, { 'x-forwarded-method': 'HEAD', 'x-forwarded-uri': '/files/a?b=1&c=d%20e' }), ...browserPage } });
      expect(signInTarget(response)).toEqual({ page: `${workspace.url}/magic-login`, next: '/files/a?b=1&c=d%20e' });
    });

    it("takes the path and query of nginx's X-Original-URL, never its host", async () => {
      const visitor = server.agent(workspace);
      const headers = { 'x-forwarded-method': 'GET', 'x-forwarded-host': new URL(workspace.url).host, 'x-original-url': 'http://evil.example/files/a?b=1', ...browserPage };
      expect(signInTarget(await visitor.get('/auth/forward', { headers }))).toEqual({ page: `${workspace.url}/magic-login`, next: '/files/a?b=1' });
    });

    it.each(['//evil.example/x', '/\\evil.example', 'javascript:alert(1)', 'http://evil.example/x', '/\tevil'])(
      'lands on the sign-in page with no next when the original path is %j',
      async (hostile) => {
        const visitor = server.agent(workspace);
        const response = await visitor.get('/auth/forward', { headers: { ...forwarded(workspace, { 'x-forwarded-uri': hostile }), ...browserPage } });
        expect(response.headers.location).toBe(`${workspace.url}/magic-login`);
      },
    );

    it('gets 401, not a redirect, for an API call or a page POST', async () => {
      const visitor = server.agent(workspace);
      for (const headers of [
        { ...forwarded(workspace), ...apiCall },
        { ...forwarded(workspace) },
        { ...forwarded(workspace, { 'x-forwarded-method': 'POST' }), ...browserPage },
        { ...forwarded(workspace, { 'x-forwarded-method': 'DELETE' }), ...browserPage },
      ]) {
        const response = await visitor.get('/auth/forward', { headers });
        expect(response.status).toBe(401);
        expect(response.headers.location).toBeUndefined();
        expect(response.json()).toMatchObject({ error: 'not_signed_in' });
        expect(porticoHeaders(response)).toEqual({});
      }
    });

    it('gets a 404 when the forwarded host is no workspace', async () => {
      const visitor = server.agent(workspace);
      const response = await visitor.get('/auth/forward', { headers: { ...forwarded(workspace, { 'x-forwarded-host': 'nobody.test' }), ...browserPage } });
      expect(response.status).toBe(404);
      expect(response.headers.location).toBeUndefined();
    });
  });

  describe('a signed-in client', () => {
    it('is let through with its id, stored email, percent-encoded name and workspace, and nothing more', async () => {
      // Typed in another case at the door; the headers carry the address as it was stored.
      const browser = await signIn(server, sink, workspace, 'clea.dupont@EXAMPLE.com', clea.email);
      for (const navigation of [browserPage, apiCall, { 'sec-fetch-mode': 'navigate' }]) {
        const response = await browser.get('/auth/forward', { headers: { ...forwarded(workspace), ...navigation } });
        expect(response.status).toBe(200);
        expect(porticoHeaders(response)).toEqual({
          'x-portico-client-id': clea.id,
          'x-portico-client-email': clea.email,
          'x-portico-client-name': 'Cl%C3%A9a%20Dupont',
          'x-portico-workspace': workspace.slug,
        });
      }
      expect(clea.email).toBe('Clea.Dupont@example.com');
      expect(clea.name).toBe('Cléa Dupont');
    });

    it('is let through for a POST too, and a client with no name gets an empty name', async () => {
      const browser = await signIn(server, sink, workspace, 'nameless@example.com');
      const response = await browser.get('/auth/forward', { headers: forwarded(workspace, { 'x-forwarded-method': 'POST' }) });
      expect(response.status).toBe(200);
      expect(porticoHeaders(response)).toEqual({
        'x-portico-client-id': nameless.id,
        'x-portico-client-email': 'nameless@example.com',
        'x-portico-client-name': '',
        'x-portico-workspace': workspace.slug,
      });
    });
  });

  describe('the workspace', () => {
    it('is the one X-Forwarded-Host names, whatever Host the proxy sends', async () => {
      const { email, browser } = await signedInClient(other);
      const headers = { ...forwarded(other), ...apiCall, host: '127.0.0.1' };
      const response = await browser.get('/auth/forward', { headers });
      expect(response.status).toBe(200);
      expect(porticoHeaders(response)).toMatchObject({ 'x-portico-client-email': email, 'x-portico-workspace': other.slug });
    });

    it("counts workspace A's cookie for nothing on workspace B", async () => {
      const { browser } = await signedInClient(workspace);
      // The same cookie that opens workspace A...
      expect((await browser.get('/auth/forward', { headers: { ...forwarded(workspace), ...apiCall } })).status).toBe(200);
      // ...asked about B, with A's Host on the check itself: signed out there.
      const api = await browser.get('/auth/forward', { headers: { ...forwarded(other), ...apiCall } });
      expect(api.status).toBe(401);
      expect(porticoHeaders(api)).toEqual({});
      const page = await browser.get('/auth/forward', { headers: { ...forwarded(other), ...browserPage } });
      expect(signInTarget(page)).toEqual({ page: `${other.url}/magic-login`, next: '/files/report.pdf' });
    });
  });

  describe('ending the session closes the app at the very next check', () => {
    const check = (browser: HttpAgent) => browser.get('/auth/forward', { headers: { ...forwarded(workspace), ...apiCall } });

    it('after POST /logout, even to the old cookie', async () => {
      const { browser } = await signedInClient();
      const cookie = browser.cookies.get('portico_session')!;
      expect((await check(browser)).status).toBe(200);
      expect((await browser.post('/logout', {})).status).toBe(303);
      expect((await check(browser)).status).toBe(401);
      browser.cookies.set('portico_session', cookie);
      expect((await check(browser)).status).toBe(401);
    });

    it('after `portico client disable` in another process', async () => {
      const { email, browser } = await signedInClient();
      expect((await check(browser)).status).toBe(200);
      const disabled = await runPorticoCommand(['client', 'disable', '--workspace', workspace.slug, '--email', email, '--json'], { DATABASE_URL: server.database.url });
      expect(disabled.stderr).toBe('');
      expect(disabled.code).toBe(0);
      expect((await check(browser)).status).toBe(401);
    });

    it('after "sign out everywhere" in another browser', async () => {
      const { email, browser: laptop } = await signedInClient();
      const phone = await signIn(server, sink, workspace, email);
      expect((await check(laptop)).status).toBe(200);
      expect((await check(phone)).status).toBe(200);
      expect((await phone.post('/account/sessions/end-all', {})).status).toBe(303);
      expect((await check(laptop)).status).toBe(401);
    });
  });
});

describe.each(testDialects)('GET /auth/forward from a peer TRUST_PROXY does not name, on %s (issue 16)', (dialect) => {
  describe.each([
    ['TRUST_PROXY unset', {}],
    ['TRUST_PROXY naming another address', { TRUST_PROXY: '192.0.2.10' }],
  ])('%s', (_label, env: Record<string, string>) => {
    let sink: SmtpSink;
    let server: TestPortico;
    let workspace: Workspace;
    let other: Workspace;

    beforeAll(async () => {
      sink = await new SmtpSink().start();
      server = await startTestPortico({ dialect, smtpUrl: sink.url, env });
      workspace = await server.createWorkspace('Host Portal');
      other = await server.createWorkspace('Forged Portal');
    });
    afterAll(async () => {
      await server?.stop({ dropDatabase: true });
      await sink?.stop();
    });

    const forged = (target: Workspace) => ({
      'x-forwarded-host': new URL(target.url).host,
      'x-forwarded-uri': '/files/report.pdf',
      'x-original-url': 'http://evil.example/files/a?b=1',
      'x-forwarded-method': 'POST',
    });

    it('sends a signed-out page to the sign-in of the workspace Host names, with no way back to the check itself', async () => {
      const visitor = server.agent(workspace);
      const response = await visitor.get('/auth/forward', { headers: { ...forged(other), ...browserPage } });
      // X-Forwarded-Method: POST would have made this a 401; the method is the check's own GET.
      // Landing on /auth/forward after signing in would show an empty page: no next at all.
      expect(signInTarget(response)).toEqual({ page: `${workspace.url}/magic-login`, next: null });
    });

    it("lets a client of Host's workspace through as itself, not as the forged workspace", async () => {
      await server.addClient(workspace, 'here@example.com');
      const browser = await signIn(server, sink, workspace, 'here@example.com');
      const response = await browser.get('/auth/forward', { headers: { ...forged(other), ...apiCall } });
      expect(response.status).toBe(200);
      expect(porticoHeaders(response)).toMatchObject({ 'x-portico-client-email': 'here@example.com', 'x-portico-workspace': workspace.slug });
    });

    it('gives a 404 when Host names no workspace, whatever X-Forwarded-Host says', async () => {
      const visitor = new HttpAgent(server.portico.address, 'http://nobody.test');
      const response = await visitor.get('/auth/forward', { headers: { ...forged(workspace), ...browserPage } });
      expect(response.status).toBe(404);
    });
  });
});
