import { mkdirSync } from 'node:fs';
import type { Browser, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addClient, type Client } from '../src/clients/clients.js';
import { createWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { launchChromium } from './helpers/chromium.js';
import { testDialects } from './helpers/databases.js';
import { startEchoApp, type EchoApp, type EchoedRequest } from './helpers/echo-app.js';
import { HttpAgent, type HttpResponse } from './helpers/http-agent.js';
import { freeLoopbackPort, reverseProxyNames, startReverseProxy, type RunningReverseProxy } from './helpers/reverse-proxies.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// Issue 16: an app with no sign-in of its own behind Debian's Caddy and nginx, each running the
// configuration README.md documents ("Protect an app with forward authentication"), in front of a
// real Portico and a tiny app that echoes the headers it receives.

const screenshots = 'test-results/screenshots';
const browserPage = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const forgedIdentity = {
  'x-portico-client-id': 'forged-id',
  'x-portico-client-email': 'boss@example.com',
  'x-portico-client-name': 'The%20Boss',
  'x-portico-workspace': 'forged-workspace',
};

/** A header each test puts on its own requests, to tell them apart among what the app received. */
const markerHeader = 'x-test-marker';
let markers = 0;
const nextMarker = () => `request-${(markers += 1)}`;

/** The X-Portico-* headers the app received, and only those. */
function porticoHeadersOf(received: Pick<EchoedRequest, 'headers'>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(received.headers).filter(([name]) => name.startsWith('x-portico-')));
}

function expectSentToSignIn(response: HttpResponse, workspace: Workspace, next: string): void {
  expect(response.status).toBe(302);
  const location = new URL(response.headers.location!);
  expect(`${location.origin}${location.pathname}`).toBe(`${workspace.url}/magic-login`);
  expect(location.searchParams.get('next')).toBe(next);
}

describe.each(testDialects)('an app behind a reverse proxy with forward authentication, on %s (issue 16)', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let app: EchoApp;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    sink = await new SmtpSink().start();
    // The proxies connect from 127.0.0.1: the address TRUST_PROXY must name.
    server = await startTestPortico({ dialect, smtpUrl: sink.url, env: { TRUST_PROXY: '127.0.0.1' } });
    app = await startEchoApp();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  describe.each(reverseProxyNames)('%s', (proxyName) => {
    let proxy: RunningReverseProxy;
    let workspace: Workspace;
    let client: Client;
    let nameless: Client;

    beforeAll(async () => {
      const proxyPort = await freeLoopbackPort();
      workspace = await createWorkspace(server.portico.context.db, server.clock, { name: `Portal ${proxyName}`, url: `http://portal.test:${proxyPort}` });
      client = await addClient(server.portico.context.db, server.clock, workspace, { email: 'client@example.com', name: 'Cléa Dupont' });
      nameless = await addClient(server.portico.context.db, server.clock, workspace, { email: 'nameless@example.com' });
      proxy = await startReverseProxy(proxyName, { workspaceUrl: workspace.url, porticoPort: Number(new URL(server.portico.address).port), appPort: app.port });
    });
    afterAll(async () => {
      await proxy?.stop();
    });

    /**
     * What the app received on this proxy's address carrying a test's marker: Chromium asks for
     * /favicon.ico on its own after a page, which may reach the app during the next test.
     */
    const appRequestsMarked = (marker: string): EchoedRequest[] => app.requestsFor(new URL(workspace.url).host).filter((request) => request.headers[markerHeader] === marker);

    /** A visitor's HTTP client on the workspace's address, through the proxy. */
    const visitor = () => new HttpAgent(proxy.address, workspace.url);

    async function signedIn(email: string): Promise<HttpAgent> {
      const agent = visitor();
      const before = sink.mailsTo(email).length;
      expect((await agent.post('/magic-login', { email, next: '/files/report.pdf' })).status).toBe(200);
      const mails = await sink.waitForMails(email, before + 1);
      const verified = await agent.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mails[mails.length - 1]!, workspace.url)) });
      expect(verified.status).toBe(303);
      expect(verified.headers.location).toBe('/files/report.pdf');
      return agent;
    }

    it('(a) sends a signed-out visitor in Chromium to sign in, and back to the file, which the app serves as the client', async () => {
      const marker = nextMarker();
      const context = await browser.newContext({ extraHTTPHeaders: { [markerHeader]: marker } });
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      const served: Response[] = [];
      page.on('response', (response) => {
        if (response.request().isNavigationRequest() && new URL(response.url()).pathname === '/files/report.pdf' && response.status() === 200) served.push(response);
      });

      await page.goto(`${workspace.url}/files/report.pdf`);
      await page.waitForURL((url) => url.pathname === '/magic-login');
      expect(new URL(page.url()).searchParams.get('next')).toBe('/files/report.pdf');
      expect(appRequestsMarked(marker)).toEqual([]);
      await page.screenshot({ path: `${screenshots}/forward-auth-${proxyName}-sign-in.png`, fullPage: true });

      const before = sink.mailsTo('client@example.com').length;
      await page.getByLabel('Email address').fill('client@example.com');
      await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
      await page.getByRole('heading', { name: 'Check your email' }).waitFor();
      const mails = await sink.waitForMails('client@example.com', before + 1);
      await page.goto(linkFromMail(mails[mails.length - 1]!, workspace.url));
      await page.waitForURL(`${workspace.url}/files/report.pdf`);

      expect(served).toHaveLength(1);
      const body = (await served[0]!.json()) as EchoedRequest & { file: string };
      expect(body.file).toBe('report.pdf');
      expect(body.headers['x-portico-client-email']).toBe('client@example.com');
      expect(porticoHeadersOf(body)).toEqual({
        'x-portico-client-id': client.id,
        'x-portico-client-email': 'client@example.com',
        'x-portico-client-name': 'Cl%C3%A9a%20Dupont',
        'x-portico-workspace': workspace.slug,
      });
      await page.screenshot({ path: `${screenshots}/forward-auth-${proxyName}-report.png`, fullPage: true });
      await context.close();
    });

    it('(b) never lets a forged X-Portico-* header reach the app, signed out or signed in', async () => {
      // Caddy drops every X-Portico-* header a visitor sends; nginx cannot remove headers by a
      // pattern, and replaces the four Portico sets (README).
      const forged = proxyName === 'caddy' ? { ...forgedIdentity, 'x-portico-role': 'forged-role' } : forgedIdentity;
      const marker = nextMarker();
      const stranger = visitor();
      expectSentToSignIn(await stranger.get('/files/report.pdf', { headers: { ...browserPage, ...forged, [markerHeader]: marker } }), workspace, '/files/report.pdf');
      const api = await stranger.get('/files/report.pdf', { headers: { accept: 'application/json', ...forged, [markerHeader]: marker } });
      expect(api.status).toBe(401);
      expect(appRequestsMarked(marker)).toEqual([]);

      const signedInClient = await signedIn('client@example.com');
      for (const path of ['/files/report.pdf', '/']) {
        const response = await signedInClient.get(path, { headers: { ...browserPage, ...forged, [markerHeader]: marker } });
        expect(response.status).toBe(200);
        const received = response.json<EchoedRequest>();
        expect(received.path).toBe(path);
        expect(porticoHeadersOf(received)).toEqual({
          'x-portico-client-id': client.id,
          'x-portico-client-email': 'client@example.com',
          'x-portico-client-name': 'Cl%C3%A9a%20Dupont',
          'x-portico-workspace': workspace.slug,
        });
      }

      // Portico has no name to give: the app sees an empty name or none, never the visitor's.
      const namelessClient = await signedIn('nameless@example.com');
      const response = await namelessClient.get('/files/report.pdf', { headers: { ...forged, [markerHeader]: marker } });
      expect(response.status).toBe(200);
      const { 'x-portico-client-name': name, ...identity } = porticoHeadersOf(response.json<EchoedRequest>());
      expect(name ?? '').toBe('');
      expect(identity).toEqual({ 'x-portico-client-id': nameless.id, 'x-portico-client-email': 'nameless@example.com', 'x-portico-workspace': workspace.slug });

      const received = appRequestsMarked(marker);
      expect(received).toHaveLength(3);
      for (const value of Object.values(forged)) expect(JSON.stringify(received)).not.toContain(value);
    });

    it("(e) never lets another workspace's client in by naming that workspace's address to this proxy", async () => {
      // A client of another workspace on the same Portico, with their own live session cookie.
      const otherWorkspace = await createWorkspace(server.portico.context.db, server.clock, { name: `Other ${proxyName}`, url: `http://other-${proxyName}.test:${new URL(workspace.url).port}` });
      const outsiderEmail = `outsider-${proxyName}@example.com`;
      await addClient(server.portico.context.db, server.clock, otherWorkspace, { email: outsiderEmail });
      const outsider = new HttpAgent(server.portico.address, otherWorkspace.url);
      expect((await outsider.post('/magic-login', { email: outsiderEmail })).status).toBe(200);
      const [mail] = await sink.waitForMails(outsiderEmail, 1);
      expect((await outsider.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, otherWorkspace.url)) })).status).toBe(303);
      const cookie = `portico_session=${outsider.cookies.get('portico_session')}`;
      const marker = nextMarker();
      // Through this proxy, with the other workspace's address in Host: refused, or checked as this workspace's (signed out).
      const sneaking = new HttpAgent(proxy.address, otherWorkspace.url);
      // nginx closes the connection (444); Caddy has no site for that address and answers nothing.
      const answer = await sneaking.get('/files/report.pdf', { headers: { cookie, accept: 'application/json', [markerHeader]: marker } }).catch(() => null);
      expect(answer?.body ?? '').not.toContain(outsiderEmail);
      expect(JSON.stringify(app.requests.filter((request) => request.headers[markerHeader] === marker))).not.toContain(outsiderEmail);
    });

    it("(f) keeps underscore spellings of X-Portico-* headers from the app, and the app's pages out of caches", async () => {
      const marker = nextMarker();
      const signedInClient = await signedIn('client@example.com');
      const underscored = { x_portico_client_email: 'boss@example.com', 'x_Portico-Client_Email': 'boss@example.com', 'X-Portico_Client_Email': 'boss@example.com' };
      const response = await signedInClient.get('/files/report.pdf', { headers: { ...browserPage, ...underscored, [markerHeader]: marker } });
      expect(response.status).toBe(200);
      expect(JSON.stringify(response.json<EchoedRequest>().headers)).not.toContain('boss@example.com');
      // The app said "public, max-age=3600"; the proxy says otherwise to the browser.
      expect(response.headers['cache-control']).toBe('private, no-cache');
    });

    it('(c) answers a signed-out API call or form POST with 401, not a redirect', async () => {
      const marker = nextMarker();
      const stranger = visitor();
      const api = await stranger.get('/files/report.pdf', { headers: { accept: 'application/json', [markerHeader]: marker } });
      expect(api.status).toBe(401);
      expect(api.headers.location).toBeUndefined();
      expect(api.json()).toMatchObject({ error: 'not_signed_in' });
      const posted = await stranger.request('/files/upload', { method: 'POST', headers: { ...browserPage, origin: workspace.url, [markerHeader]: marker }, form: { note: 'hello' } });
      expect(posted.status).toBe(401);
      expect(posted.headers.location).toBeUndefined();
      expect(appRequestsMarked(marker)).toEqual([]);
    });

    it('(d) sends the visitor to sign in again at the next request after POST /logout', async () => {
      const agent = await signedIn('client@example.com');
      const cookie = agent.cookies.get('portico_session')!;
      expect((await agent.get('/files/report.pdf', { headers: browserPage })).status).toBe(200);
      expect((await agent.post('/logout', {})).status).toBe(303);
      expectSentToSignIn(await agent.get('/files/report.pdf', { headers: browserPage }), workspace, '/files/report.pdf');
      // The old cookie, kept by someone who copied it, opens nothing either.
      agent.cookies.set('portico_session', cookie);
      expectSentToSignIn(await agent.get('/files/report.pdf?page=2', { headers: browserPage }), workspace, '/files/report.pdf?page=2');
      expect((await agent.get('/files/report.pdf', { headers: { accept: 'application/json' } })).status).toBe(401);
    });
  });
});
