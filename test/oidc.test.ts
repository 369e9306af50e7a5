import * as oidc from 'openid-client';
import { afterEach, describe, expect, it } from 'vitest';
import { addApp } from '../src/apps/apps.js';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import type { HttpAgent, HttpResponse } from './helpers/http-agent.js';
import { TestClock } from './helpers/test-clock.js';
import { discoverWorkspace, followOnWorkspace } from './helpers/relying-party.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

const callback = 'http://app.example/callback';

describe.each(testDialects)('every workspace an OpenID Connect provider, on %s', (dialect) => {
  const running: { server: TestPortico; sink: SmtpSink }[] = [];
  afterEach(async () => {
    for (const { server, sink } of running.splice(0)) {
      await server.stop({ dropDatabase: true });
      await sink.stop();
    }
  });

  async function start() {
    const sink = await new SmtpSink().start();
    const server = await startTestPortico({ dialect, smtpUrl: sink.url });
    running.push({ server, sink });
    const workspace = await server.createWorkspace('Acme');
    await server.addClient(workspace, 'client@example.com', 'Cléa Client');
    const { app, clientSecret } = await addApp(server.portico.context.db, server.clock, workspace, { name: 'Acme portal', redirectUris: [callback], postLogoutRedirectUris: ['http://app.example/'] });
    const config = await discoverWorkspace(server.portico.address, workspace.url, app.clientId, clientSecret!);
    return { server, sink, workspace, app, clientSecret: clientSecret!, config };
  }

  /** The app sends the browser to /authorize; the client signs in with a link from the mail; the browser comes back with a code. */
  async function signInThroughApp(server: TestPortico, sink: SmtpSink, workspace: Workspace, config: oidc.Configuration, browser: HttpAgent, scope = 'openid email profile offline_access') {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorize = oidc.buildAuthorizationUrl(config, { redirect_uri: callback, scope, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, prompt: 'consent' });
    let step = await followOnWorkspace(browser, authorize.href, workspace.url);
    if (step.leftTo === null) {
      expect(step.lastPath).toMatch(/^\/magic-login\?next=%2Foidc%2Finteraction%2F/);
      const next = new URL(step.lastPath, workspace.url).searchParams.get('next')!;
      const before = sink.mailsTo('client@example.com').length;
      await browser.post('/magic-login', { email: 'client@example.com', next });
      const [mail] = (await sink.waitForMails('client@example.com', before + 1)).slice(-1);
      const verified = await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, workspace.url)) });
      // Not a 303: a page that moves on to the sign-in step by itself, since browsers hold redirects
      // after a form to its `form-action 'self'` (http/continue-after-sign-in.ts).
      expect(verified.status).toBe(200);
      expect(verified.body).toContain(`<meta http-equiv="refresh" content="0;url=${next}">`);
      step = await followOnWorkspace(browser, next, workspace.url);
    }
    expect(step.leftTo?.origin).toBe('http://app.example');
    return { callbackUrl: step.leftTo!, verifier, state };
  }

  /** A full sign-in and code exchange; the tokens an app holds afterwards. */
  async function appTokens(server: TestPortico, sink: SmtpSink, workspace: Workspace, config: oidc.Configuration, browser = server.agent(workspace)) {
    const { callbackUrl, verifier, state } = await signInThroughApp(server, sink, workspace, config, browser);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    return { tokens, browser, sub: tokens.claims()!.sub };
  }

  async function introspect(config: oidc.Configuration, token: string) {
    return (await oidc.tokenIntrospection(config, token)).active;
  }

  async function refreshFails(config: oidc.Configuration, refreshToken: string) {
    const error = await oidc.refreshTokenGrant(config, refreshToken).then(() => null, (failure: unknown) => failure);
    expect(error).toBeInstanceOf(oidc.ResponseBodyError);
    expect((error as oidc.ResponseBodyError).error).toBe('invalid_grant');
  }

  async function userinfoStatus(server: TestPortico, workspace: Workspace, accessToken: string) {
    return (await server.agent(workspace).get('/oidc/me', { headers: { authorization: `Bearer ${accessToken}` } })).status;
  }

  it('disabling the client makes its refresh tokens fail, its access tokens refused and introspection inactive', async () => {
    const { server, sink, workspace, config } = await start();
    const { tokens } = await appTokens(server, sink, workspace, config);
    expect(await introspect(config, tokens.refresh_token!)).toBe(true);
    const { disableClient } = await import('../src/clients/clients.js');
    await disableClient(server.portico.context, server.clock, workspace, 'client@example.com');
    await refreshFails(config, tokens.refresh_token!);
    expect(await introspect(config, tokens.refresh_token!)).toBe(false);
    expect(await introspect(config, tokens.access_token)).toBe(false);
    expect(await userinfoStatus(server, workspace, tokens.access_token)).toBe(401);
  });

  it('"sign out everywhere" makes the refresh tokens of every app fail, and the next app sign-in asks again', async () => {
    const { server, sink, workspace, config } = await start();
    const { tokens, browser } = await appTokens(server, sink, workspace, config);
    const other = await appTokens(server, sink, workspace, config, server.agent(workspace));
    expect((await browser.post('/account/sessions/end-all', {})).status).toBe(303);
    await refreshFails(config, tokens.refresh_token!);
    await refreshFails(config, other.tokens.refresh_token!);
    expect(await introspect(config, other.tokens.access_token)).toBe(false);
    // The browser is signed out: the app's next request goes through the doors again, and works.
    const mailsBefore = sink.mailsTo('client@example.com').length;
    const again = await appTokens(server, sink, workspace, config, browser);
    expect(sink.mailsTo('client@example.com').length).toBe(mailsBefore + 1);
    expect((await oidc.refreshTokenGrant(config, again.tokens.refresh_token!)).access_token).toBeTruthy();
  });

  it('a password reset makes the refresh tokens fail', async () => {
    const { server, sink, workspace, config } = await start();
    const { tokens } = await appTokens(server, sink, workspace, config);
    const browser = server.agent(workspace);
    const before = sink.mailsTo('client@example.com').length;
    await browser.post('/forgot-password', { email: 'client@example.com' });
    const [mail] = (await sink.waitForMails('client@example.com', before + 1)).slice(-1);
    const done = await browser.post('/reset-password', { token: tokenFromLink(linkFromMail(mail!, workspace.url)), password: 'a long new passphrase for Acme' });
    expect(done.status).toBe(303);
    await refreshFails(config, tokens.refresh_token!);
    expect(await userinfoStatus(server, workspace, tokens.access_token)).toBe(401);
  });

  it('a refresh racing "sign out everywhere" leaves no token that works afterwards', async () => {
    const { server, sink, workspace, config } = await start();
    for (let round = 0; round < 5; round += 1) {
      const { tokens, browser } = await appTokens(server, sink, workspace, config, server.agent(workspace));
      const [refreshed] = await Promise.all([
        oidc.refreshTokenGrant(config, tokens.refresh_token!).then((result) => result, () => null),
        browser.post('/account/sessions/end-all', {}),
      ]);
      for (const token of [tokens.access_token, refreshed?.access_token].filter((value): value is string => typeof value === 'string')) {
        expect(await userinfoStatus(server, workspace, token)).toBe(401);
      }
      if (refreshed?.refresh_token) await refreshFails(config, refreshed.refresh_token);
    }
  });

  it('a replayed code fails, and revokes the tokens the first exchange issued', async () => {
    const { server, sink, workspace, config } = await start();
    const { callbackUrl, verifier, state } = await signInThroughApp(server, sink, workspace, config, server.agent(workspace));
    const first = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    expect(await userinfoStatus(server, workspace, first.access_token)).toBe(200);
    const replay = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state }).then(() => null, (error: unknown) => error);
    expect((replay as oidc.ResponseBodyError).error).toBe('invalid_grant');
    expect(await userinfoStatus(server, workspace, first.access_token)).toBe(401);
    expect(await introspect(config, first.access_token)).toBe(false);
    await refreshFails(config, first.refresh_token!);
  });

  it('signed out of the workspace, the next app request asks for a sign-in again; another client in that browser gets their own sub', async () => {
    const { server, sink, workspace, config } = await start();
    await server.addClient(workspace, 'second@example.com', 'Second');
    const { sub, browser } = await appTokens(server, sink, workspace, config);
    expect((await browser.post('/logout', {})).status).toBe(303);
    const verifier = oidc.randomPKCECodeVerifier();
    const authorize = oidc.buildAuthorizationUrl(config, { redirect_uri: callback, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' });
    const step = await followOnWorkspace(browser, authorize.href, workspace.url);
    expect(step.leftTo).toBeNull();
    expect(step.lastPath).toMatch(/^\/magic-login\?next=/);
    const next = new URL(step.lastPath, workspace.url).searchParams.get('next')!;
    await browser.post('/magic-login', { email: 'second@example.com', next });
    const [mail] = await sink.waitForMails('second@example.com', 1);
    const verified = await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, workspace.url)) });
    expect(verified.status).toBe(200);
    const back = await followOnWorkspace(browser, next, workspace.url);
    const tokens = await oidc.authorizationCodeGrant(config, back.leftTo!, { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.claims()).toMatchObject({ email: 'second@example.com' });
    expect(tokens.claims()!.sub).not.toBe(sub);
  });

  it('prompt=none from a signed-out browser comes back to the app with login_required, not a page', async () => {
    const { server, workspace, config } = await start();
    const verifier = oidc.randomPKCECodeVerifier();
    const authorize = oidc.buildAuthorizationUrl(config, { redirect_uri: callback, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's', prompt: 'none' });
    const step = await followOnWorkspace(server.agent(workspace), authorize.href, workspace.url);
    expect(step.leftTo?.origin).toBe('http://app.example');
    expect(step.leftTo?.searchParams.get('error')).toBe('login_required');
  });

  it('refuses bad requests with OAuth errors or a page, never a 500 and never a redirect to an unregistered address', async () => {
    const { server, workspace, app, clientSecret } = await start();
    const other = await server.createWorkspace('Other');
    const otherApp = await addApp(server.portico.context.db, server.clock, other, { name: 'Other app', redirectUris: ['http://other.example/cb'] });
    const browser = server.agent(workspace);
    const challenge = await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier());
    const authorize = (params: Record<string, string>) => browser.get(`/oidc/auth?${new URLSearchParams({ response_type: 'code', scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256', ...params })}`);
    const unregistered = [
      { client_id: app.clientId, redirect_uri: 'http://evil.example/callback' },
      { client_id: app.clientId, redirect_uri: `${callback}/../evil` },
      { client_id: app.clientId, redirect_uri: `${callback}?x=1` },
      { client_id: 'app_nosuch', redirect_uri: callback },
      // Another workspace's app is unknown here.
      { client_id: otherApp.app.clientId, redirect_uri: 'http://other.example/cb' },
    ];
    for (const params of unregistered) {
      const answer = await authorize(params);
      expect(answer.status, JSON.stringify(params)).toBe(400);
      expect(answer.headers.location).toBeUndefined();
      expect(answer.body).toContain('This sign-in request cannot be used');
    }
    // A registered address gets the standard error answer: no PKCE, or the plain method, is refused.
    for (const params of [{ code_challenge: '' }, { code_challenge_method: 'plain' }, { response_type: 'token' }] as Record<string, string>[]) {
      const answer = await authorize({ client_id: app.clientId, redirect_uri: callback, ...params });
      expect(answer.status, JSON.stringify(params)).toBe(303);
      const location = new URL(answer.headers.location!);
      expect(location.origin + location.pathname).toBe(callback);
      // The error comes in the query, or in the fragment for the implicit response type asked.
      expect(location.searchParams.get('error') ?? new URLSearchParams(location.hash.slice(1)).get('error')).toMatch(/^(invalid_request|unsupported_response_type)$/);
    }
    // The token endpoint: a wrong secret, an unknown code, another workspace's app.
    const token = (headers: Record<string, string>, form: Record<string, string>) => server.agent(workspace).request('/oidc/token', { method: 'POST', headers, form });
    const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });
    const codeForm = { grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: callback, code_verifier: 'y'.repeat(43) };
    expect((await token(basic(app.clientId, 'wrong secret'), codeForm)).json()).toMatchObject({ error: 'invalid_client' });
    expect((await token(basic(otherApp.app.clientId, otherApp.clientSecret!), codeForm)).json()).toMatchObject({ error: 'invalid_client' });
    const unknownCode = await token({}, { ...codeForm, client_id: app.clientId, client_secret: clientSecret });
    expect(unknownCode.status).toBe(400);
    expect(unknownCode.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await token(basic(app.clientId, 's'), {})).status).toBeLessThan(500);
    expect((await server.agent(workspace).get('/oidc/me', { headers: { authorization: 'Bearer nonsense' } })).status).toBe(401);
    expect((await server.agent(workspace).get('/oidc/nosuch')).status).toBe(404);
  });

  it("another workspace's tokens are unknown here, and each workspace is its own issuer with its own keys", async () => {
    const { server, sink, workspace, config } = await start();
    const { tokens } = await appTokens(server, sink, workspace, config);
    const other = await server.createWorkspace('Other');
    expect(await userinfoStatus(server, other, tokens.access_token)).toBe(401);
    const discovery = (await server.agent(other).get('/.well-known/openid-configuration')).json<{ issuer: string; jwks_uri: string; code_challenge_methods_supported: string[] }>();
    expect(discovery.issuer).toBe(other.url);
    expect(discovery.jwks_uri).toBe(`${other.url}/oidc/jwks`);
    expect(discovery.code_challenge_methods_supported).toEqual(['S256']);
    const kids = async (space: Workspace) => (await server.agent(space).get('/oidc/jwks')).json<{ keys: { kid: string; d?: string }[] }>().keys;
    const [mine, theirs] = [await kids(workspace), await kids(other)];
    expect(mine[0]!.kid).not.toBe(theirs[0]!.kid);
    expect(mine.every((key) => key.d === undefined)).toBe(true);
  });

  it('takes the secret in the form (client_secret_post) as well as in the header, and a public app with PKCE alone', async () => {
    const { server, sink, workspace, app, clientSecret } = await start();
    const postConfig = await discoverWorkspace(server.portico.address, workspace.url, app.clientId, clientSecret, { post: true });
    const { tokens } = await appTokens(server, sink, workspace, postConfig);
    expect(tokens.access_token).toBeTruthy();
    const publicApp = await addApp(server.portico.context.db, server.clock, workspace, { name: 'Mobile', redirectUris: [callback], public: true });
    const publicConfig = await discoverWorkspace(server.portico.address, workspace.url, publicApp.app.clientId);
    const viaPublic = await appTokens(server, sink, workspace, publicConfig);
    expect(viaPublic.tokens.claims()).toMatchObject({ email: 'client@example.com' });

    // Each way at every back-channel endpoint; both at once, a wrong or missing secret, and a
    // secret from a public app are refused.
    const basic = (clientId: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` });
    const post = async (path: string, headers: Record<string, string>, form: Record<string, string>) => {
      const answer = await server.agent(workspace).request(path, { method: 'POST', headers, form });
      return { status: answer.status, error: answer.status === 200 ? undefined : answer.json<{ error: string }>().error };
    };
    const confidential = { client_id: app.clientId, client_secret: clientSecret! };
    const requests = [
      ['/oidc/token', { grant_type: 'refresh_token', refresh_token: 'z'.repeat(43) }, { status: 400, error: 'invalid_grant' }],
      ['/oidc/token/introspection', { token: 'q'.repeat(43) }, { status: 200 }],
      ['/oidc/token/revocation', { token: 'q'.repeat(43) }, { status: 200 }],
    ] as const;
    for (const [path, form, accepted] of requests) {
      expect(await post(path, basic(app.clientId, clientSecret!), form), path).toEqual(accepted);
      expect(await post(path, {}, { ...form, ...confidential }), path).toEqual(accepted);
      expect(await post(path, basic(app.clientId, clientSecret!), { ...form, ...confidential }), path).toEqual({ status: 400, error: 'invalid_request' });
      expect(await post(path, {}, { ...form, client_id: app.clientId, client_secret: 'wrong' }), path).toEqual({ status: 401, error: 'invalid_client' });
      expect(await post(path, {}, { ...form, client_id: app.clientId }), path).toEqual({ status: 401, error: 'invalid_client' });
      expect(await post(path, {}, { ...form, client_id: publicApp.app.clientId, client_secret: 'anything' }), path).toEqual({ status: 401, error: 'invalid_client' });
      expect(await post(path, basic(publicApp.app.clientId, 'anything'), form), path).toEqual({ status: 401, error: 'invalid_client' });
    }
  });

  it('limits the token endpoint per IP (LIMIT_IP_TOKEN_PER_MINUTE): 429 with Retry-After, as OAuth JSON', async () => {
    const sink = await new SmtpSink().start();
    const server = await startTestPortico({ dialect, smtpUrl: sink.url, env: { LIMIT_IP_TOKEN_PER_MINUTE: '3' }, clock: new TestClock({ atTopOfHour: true }) });
    running.push({ server, sink });
    const workspace = await server.createWorkspace('Acme');
    const statuses: number[] = [];
    let last: HttpResponse | null = null;
    // However the path is spelled, it is the token endpoint to oidc-provider, and counted as one.
    for (const path of ['/oidc/token', '/oidc/token/', '/oidc/TOKEN', '/oidc/Token/']) {
      last = await server.agent(workspace).request(path, { method: 'POST', form: { grant_type: 'authorization_code', code: 'x', client_id: 'app_x', client_secret: 'y' } });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 3).every((status) => status === 400 || status === 401)).toBe(true);
    expect(statuses[3]).toBe(429);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect(last!.json()).toMatchObject({ error: 'slow_down' });
  });

  it('answers POSTs to the token endpoint from an app on another origin, but not the sign-out form', async () => {
    const { server, workspace, app } = await start();
    const foreign = { origin: 'http://app.example', 'sec-fetch-site': 'cross-site' };
    const token = await server.agent(workspace).request('/oidc/token', { method: 'POST', headers: foreign, form: { grant_type: 'authorization_code', code: 'x', client_id: app.clientId, client_secret: 'y' } });
    // Not refused as a cross-site form: oidc-provider answers it, with CORS for the app's own origin.
    expect(token.json()).toMatchObject({ error: 'invalid_client' });
    expect(token.headers['access-control-allow-origin']).toBe('http://app.example');
    const elsewhere = await server.agent(workspace).request('/oidc/token', { method: 'POST', headers: { origin: 'http://evil.example' }, form: { grant_type: 'authorization_code', code: 'x', client_id: app.clientId, client_secret: 'y' } });
    expect(elsewhere.json()).toMatchObject({ error: 'invalid_request' });
    expect(elsewhere.headers['access-control-allow-origin']).toBeUndefined();
    for (const path of ['/oidc/session/end/confirm', '/oidc/session/end/CONFIRM', '/oidc/session/end/confirm/?portico=sign-out']) {
      const confirm = await server.agent(workspace).request(path, { method: 'POST', headers: foreign, form: { xsrf: 'x', logout: 'yes' } });
      expect(confirm.status, path).toBe(403);
    }
  });

  // issue 15: an app's sign-out request from a browser without a session here got oidc-provider's
  // own page ("Submitting Callback"): English, unbranded, and moved on only by an inline script.
  it("an app's sign-out from a browser with no session: Portico's page in the browser's language, whose form goes back to the registered address", async () => {
    const { server, sink, workspace, app, config } = await start();
    const { tokens } = await appTokens(server, sink, workspace, config);
    const german = { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' };
    const requests: { how: string; post?: boolean; params: Record<string, string>; back: string }[] = [
      { how: 'id_token_hint', params: { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://app.example/', state: 'st' }, back: 'http://app.example/?state=st' },
      { how: 'client_id', params: { client_id: app.clientId, post_logout_redirect_uri: 'http://app.example/' }, back: 'http://app.example/' },
      { how: 'a form POST', post: true, params: { client_id: app.clientId, post_logout_redirect_uri: 'http://app.example/' }, back: 'http://app.example/' },
      { how: 'nothing', params: {}, back: `${workspace.url}/oidc/session/end/success` },
    ];
    for (const { how, post, params, back } of requests) {
      // A browser that never signed in here.
      const browser = server.agent(workspace);
      const page = post ? await browser.post('/oidc/session/end', params, { headers: german }) : await browser.get(`/oidc/session/end?${new URLSearchParams(params)}`, { headers: german });
      expect(page.status, how).toBe(200);
      expect(page.body, how).toContain('<html lang="de">');
      expect(page.headers['content-language'], how).toBe('de');
      expect(page.body, how).toContain('<h1>Sie sind abgemeldet</h1>');
      expect(page.body, how).toContain('<span>Acme</span>');
      expect(page.body, how).not.toContain('Submitting Callback');
      const backToApp = back.startsWith('http://app.example/');
      expect(page.body.includes('Sie werden zu Acme portal zurückgeleitet …'), how).toBe(backToApp);
      // The form, as a browser sends it: oidc-provider's confirmation, with a button anyone can press.
      const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(page.body);
      expect(form?.[1], how).toBe(`${workspace.url}/oidc/session/end/confirm`);
      const fields = Object.fromEntries([...form![2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((match) => [match[1]!, match[2]!]));
      expect(fields, how).toEqual({ xsrf: expect.stringMatching(/^[0-9a-f]{48}$/), logout: 'yes' });
      expect(form![2], how).toMatch(/<button type="submit"[^>]*>Weiter<\/button>/);
      // The script that presses it may run (its nonce is the page's), and the form may lead to the app.
      const policy = String(page.headers['content-security-policy']);
      const nonce = /<script nonce="([^"]+)">/.exec(page.body)?.[1];
      expect(policy, how).toContain(`script-src 'nonce-${nonce}'`);
      expect(policy, how).toContain(backToApp ? "form-action 'self' http://app.example;" : "form-action 'self';");
      const sent = await browser.post('/oidc/session/end/confirm', fields);
      expect(sent.status, how).toBe(303);
      expect(sent.headers.location, how).toBe(back);
      if (!backToApp) expect((await browser.get(new URL(back).pathname, { headers: german })).body).toContain('Sie sind von Acme abgemeldet.');
    }
    // An address the app did not register is still refused by oidc-provider, on Portico's error page.
    const refused = await server.agent(workspace).get(`/oidc/session/end?${new URLSearchParams({ client_id: app.clientId, post_logout_redirect_uri: 'http://evil.example/' })}`, { headers: { ...german, accept: 'text/html' } });
    expect(refused.status).toBe(400);
    expect(refused.headers.location).toBeUndefined();
    expect(refused.body).toContain('<html lang="de">');
    expect(refused.body).not.toContain('evil.example/"');
  });

  it('prompt=login and a short max_age send a signed-in client through the doors again; auth_time is when they signed in', async () => {
    const sink = await new SmtpSink().start();
    // Portico's clock an hour behind oidc-provider's own: an auth_time of "now" would show.
    const clock = new TestClock();
    clock.advance(-3_600_000);
    const server = await startTestPortico({ dialect, smtpUrl: sink.url, clock });
    running.push({ server, sink });
    const workspace = await server.createWorkspace('Acme');
    await server.addClient(workspace, 'client@example.com', 'Cléa Client');
    const { app, clientSecret } = await addApp(server.portico.context.db, server.clock, workspace, { name: 'Acme portal', redirectUris: [callback] });
    const config = await discoverWorkspace(server.portico.address, workspace.url, app.clientId, clientSecret!);
    const signedInAt = Math.floor(clock.now() / 1000);
    const { tokens, browser } = await appTokens(server, sink, workspace, config);
    expect(Math.abs((tokens.claims()!.auth_time as number) - signedInAt)).toBeLessThanOrEqual(1);
    // An ordinary request goes straight through and tells the sign-in's time.
    const plain = await appTokens(server, sink, workspace, config, browser);
    expect(sink.mailsTo('client@example.com')).toHaveLength(1);
    expect(Math.abs((plain.tokens.claims()!.auth_time as number) - signedInAt)).toBeLessThanOrEqual(1);
    for (const params of [{ prompt: 'login' }, { max_age: '60' }] as Record<string, string>[]) {
      // Ten minutes since the last sign-in: older than max_age=60.
      clock.advance(10 * 60_000);
      const verifier = oidc.randomPKCECodeVerifier();
      const authorize = oidc.buildAuthorizationUrl(config, { redirect_uri: callback, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's', ...params });
      const step = await followOnWorkspace(browser, authorize.href, workspace.url);
      expect(step.leftTo, JSON.stringify(params)).toBeNull();
      expect(step.lastPath).toMatch(/^\/magic-login\?next=/);
      const next = new URL(step.lastPath, workspace.url).searchParams.get('next')!;
      const mails = sink.mailsTo('client@example.com').length;
      await browser.post('/magic-login', { email: 'client@example.com', next });
      const [mail] = (await sink.waitForMails('client@example.com', mails + 1)).slice(-1);
      const freshAt = Math.floor(clock.now() / 1000);
      expect((await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, workspace.url)) })).status).toBe(200);
      const back = await followOnWorkspace(browser, next, workspace.url);
      expect(back.leftTo?.origin, JSON.stringify(params)).toBe('http://app.example');
      const fresh = await oidc.authorizationCodeGrant(config, back.leftTo!, { pkceCodeVerifier: verifier, expectedState: 's' });
      expect(Math.abs((fresh.claims()!.auth_time as number) - freshAt)).toBeLessThanOrEqual(1);
    }
  });

  it('a client who signed in to an app without offline_access, then signed out, can hand the browser to another client', async () => {
    const { server, sink, workspace, config } = await start();
    await server.addClient(workspace, 'second@example.com', 'Second');
    const browser = server.agent(workspace);
    const first = await signInThroughApp(server, sink, workspace, config, browser, 'openid email');
    await oidc.authorizationCodeGrant(config, first.callbackUrl, { pkceCodeVerifier: first.verifier, expectedState: first.state });
    expect((await browser.post('/logout', {})).status).toBe(303);
    const verifier = oidc.randomPKCECodeVerifier();
    const authorize = oidc.buildAuthorizationUrl(config, { redirect_uri: callback, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' });
    const step = await followOnWorkspace(browser, authorize.href, workspace.url);
    const next = new URL(step.lastPath, workspace.url).searchParams.get('next')!;
    await browser.post('/magic-login', { email: 'second@example.com', next });
    const [mail] = await sink.waitForMails('second@example.com', 1);
    expect((await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, workspace.url)) })).status).toBe(200);
    const back = await followOnWorkspace(browser, next, workspace.url);
    const tokens = await oidc.authorizationCodeGrant(config, back.leftTo!, { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.claims()).toMatchObject({ email: 'second@example.com' });
  });

  it("an app introspects its own tokens only, not another app's", async () => {
    const { server, sink, workspace, config } = await start();
    const { tokens } = await appTokens(server, sink, workspace, config);
    const other = await addApp(server.portico.context.db, server.clock, workspace, { name: 'Other app', redirectUris: [callback] });
    const otherConfig = await discoverWorkspace(server.portico.address, workspace.url, other.app.clientId, other.clientSecret!);
    expect(await introspect(config, tokens.access_token)).toBe(true);
    expect(await introspect(otherConfig, tokens.access_token)).toBe(false);
    expect(await introspect(otherConfig, tokens.refresh_token!)).toBe(false);
  });

  it('an https workspace reached over plain http (a TLS proxy not yet trusted) answers, never a 500', async () => {
    const { server, app } = await start();
    const { createWorkspace } = await import('../src/workspaces/workspaces.js');
    const secure = await createWorkspace(server.portico.context.db, server.clock, { name: 'Secure', url: `https://secure.test:${new URL(server.portico.address).port}` });
    const secureApp = await addApp(server.portico.context.db, server.clock, secure, { name: 'Secure app', redirectUris: [callback] });
    const browser = server.agent(secure);
    const discovery = (await browser.get('/.well-known/openid-configuration')).json<{ issuer: string; token_endpoint: string }>();
    expect(discovery).toMatchObject({ issuer: secure.url, token_endpoint: `${secure.url}/oidc/token` });
    const challenge = await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier());
    const answer = await browser.get(`/oidc/auth?${new URLSearchParams({ client_id: secureApp.app.clientId, redirect_uri: callback, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' })}`);
    expect(answer.status).toBe(303);
    expect(answer.headers.location).toMatch(/\/oidc\/interaction\//);
    expect(String(answer.headers['set-cookie'])).toMatch(/; secure/i);
    expect(app.clientId).not.toBe(secureApp.app.clientId);
  });

  /**
   * Userinfo as a plain request (`GET` with a Bearer header), which Portico's own userinfo.ts may
   * answer, and as a form POST, which only oidc-provider answers: the two must agree, always.
   */
  async function userinfoBothWays(server: TestPortico, workspace: Workspace, accessToken: string) {
    const agent = server.agent(workspace);
    const plain = await agent.get('/oidc/me', { headers: { authorization: `Bearer ${accessToken}` } });
    const certified = await agent.request('/oidc/me', { method: 'POST', form: { access_token: accessToken } });
    const answered = (response: HttpResponse) => ({
      status: response.status,
      body: response.status === 200 ? response.json() : null,
      cacheControl: response.headers['cache-control'],
      contentType: response.headers['content-type'],
      bearer: /^Bearer /.test(String(response.headers['www-authenticate'] ?? 'Bearer ')),
    });
    expect(answered(plain)).toEqual(answered(certified));
    return { status: plain.status, body: plain.status === 200 ? plain.json<Record<string, unknown>>() : null };
  }

  it("userinfo: Portico's answer to a plain request is oidc-provider's, for every scope and every way a token ends", async () => {
    const { server, sink, workspace, app, config } = await start();
    const { answerUserinfo } = await import('../src/apps/oidc/userinfo.js');
    const { db } = server.portico.context;
    const browser = server.agent(workspace);
    const tokensFor = async (scope: string) => {
      const { callbackUrl, verifier, state } = await signInThroughApp(server, sink, workspace, config, browser, scope);
      return (await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state })).access_token;
    };
    const full = await tokensFor('openid email profile offline_access');
    const { sub } = (await userinfoBothWays(server, workspace, full)).body!;
    // Portico's own path answered it (not a fall-through to oidc-provider).
    expect(await answerUserinfo(db, workspace.id, full)).toEqual({ sub, email: 'client@example.com', email_verified: true, name: 'Cléa Client' });
    expect((await userinfoBothWays(server, workspace, full)).body).toEqual({ sub, email: 'client@example.com', email_verified: true, name: 'Cléa Client' });
    // Scopes: only what was asked for; a token without offline_access ends with oidc-provider's session.
    const openidOnly = await tokensFor('openid');
    expect((await userinfoBothWays(server, workspace, openidOnly)).body).toEqual({ sub });
    expect(await answerUserinfo(db, workspace.id, openidOnly)).toEqual({ sub });
    // A token stored before its row recorded its session's uid (migration 0015) is answered alike.
    const { hashSecretToken } = await import('../src/crypto/tokens.js');
    await db.updateTable('oidc_payloads').set({ session_uid: null }).where('model', '=', 'AccessToken').where('id_hash', '=', hashSecretToken(openidOnly)).execute();
    expect(await answerUserinfo(db, workspace.id, openidOnly)).toEqual({ sub });
    const emailOnly = await tokensFor('openid email');
    expect((await userinfoBothWays(server, workspace, emailOnly)).body).toEqual({ sub, email: 'client@example.com', email_verified: true });
    const profileOnly = await tokensFor('openid profile');
    expect((await userinfoBothWays(server, workspace, profileOnly)).body).toEqual({ sub, name: 'Cléa Client' });

    // Bad tokens and headers: the standard 401 from oidc-provider, whichever way they are sent.
    for (const bad of ['x'.repeat(43), `${full}x`, full.toUpperCase()]) expect((await userinfoBothWays(server, workspace, bad)).status).toBe(401);
    const agent = server.agent(workspace);
    expect((await agent.get('/oidc/me', { headers: { authorization: `bearer ${full}` } })).status).toBe(200);
    for (const header of [`Bearer ${full} x`, `Basic ${full}`, `DPoP ${full}`, 'Bearer', '']) {
      const refused = await agent.get('/oidc/me', { headers: { authorization: header } });
      expect(refused.status, header).toBeGreaterThanOrEqual(400);
      expect(refused.status, header).toBeLessThan(500);
    }
    // Another workspace never answers for this one's token.
    const other = await server.createWorkspace('Other');
    expect((await userinfoBothWays(server, other, full)).status).toBe(401);
    expect(await answerUserinfo(db, other.id, full)).toBeNull();

    // A token of a shape this path does not know (here, one with an audience) is left to oidc-provider.
    const withAudience = await tokensFor('openid email');
    const editPayload = async (token: string, edit: (payload: Record<string, unknown>) => void) => {
      const row = await db.selectFrom('oidc_payloads').select('payload').where('model', '=', 'AccessToken').where('id_hash', '=', hashSecretToken(token)).executeTakeFirstOrThrow();
      const payload = JSON.parse(row.payload) as Record<string, unknown>;
      edit(payload);
      await db.updateTable('oidc_payloads').set({ payload: JSON.stringify(payload) }).where('model', '=', 'AccessToken').where('id_hash', '=', hashSecretToken(token)).execute();
    };
    await editPayload(withAudience, (payload) => (payload.aud = 'https://api.example'));
    expect(await answerUserinfo(db, workspace.id, withAudience)).toBeNull();
    expect((await userinfoBothWays(server, workspace, withAudience)).status).toBe(401);
    // An expired token, to the second.
    const expired = await tokensFor('openid email');
    await editPayload(expired, (payload) => (payload.exp = Math.floor(Date.now() / 1000)));
    expect(await answerUserinfo(db, workspace.id, expired)).toBeNull();
    expect((await userinfoBothWays(server, workspace, expired)).status).toBe(401);
    // A revoked token.
    const revoked = await tokensFor('openid email');
    await oidc.tokenRevocation(config, revoked);
    expect((await userinfoBothWays(server, workspace, revoked)).status).toBe(401);

    // oidc-provider's session gone: the tokens bound to it end; the offline one holds.
    await db.deleteFrom('oidc_payloads').where('workspace_id', '=', workspace.id).where('model', '=', 'Session').execute();
    expect(await answerUserinfo(db, workspace.id, openidOnly)).toBeNull();
    expect((await userinfoBothWays(server, workspace, openidOnly)).status).toBe(401);
    expect(await answerUserinfo(db, workspace.id, emailOnly)).toBeNull();
    expect((await userinfoBothWays(server, workspace, emailOnly)).status).toBe(401);
    expect((await userinfoBothWays(server, workspace, full)).status).toBe(200);

    // Sign out everywhere, then disabling, then removing the app: each ends the token at once.
    const lasting = await tokensFor('openid email profile offline_access');
    expect((await browser.post('/account/sessions/end-all', {})).status).toBe(303);
    expect((await userinfoBothWays(server, workspace, full)).status).toBe(401);
    expect((await userinfoBothWays(server, workspace, lasting)).status).toBe(401);
    const again = await tokensFor('openid email profile offline_access');
    expect((await userinfoBothWays(server, workspace, again)).status).toBe(200);
    const { removeApp } = await import('../src/apps/apps.js');
    await removeApp(db, workspace, app.clientId);
    expect(await answerUserinfo(db, workspace.id, again)).toBeNull();
    expect((await userinfoBothWays(server, workspace, again)).status).toBe(401);
  });

  it('signs a client in to an app with a magic link: code, ID token with email and name, userinfo, refresh', async () => {
    const { server, sink, workspace, config } = await start();
    const browser = server.agent(workspace);
    const { callbackUrl, verifier, state } = await signInThroughApp(server, sink, workspace, config, browser);
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: workspace.url, email: 'client@example.com', email_verified: true, name: 'Cléa Client' });
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ sub: claims.sub, email: 'client@example.com', email_verified: true, name: 'Cléa Client' });
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()?.sub).toBe(claims.sub);

    // A second app request from the signed-in browser goes straight through, no page.
    const again = await signInThroughApp(server, sink, workspace, config, browser);
    expect(sink.mailsTo('client@example.com')).toHaveLength(1);
    const second = await oidc.authorizationCodeGrant(config, again.callbackUrl, { pkceCodeVerifier: again.verifier, expectedState: again.state });
    expect(second.claims()?.sub).toBe(claims.sub);
  });
});
