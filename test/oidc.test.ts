import * as oidc from 'openid-client';
import { afterEach, describe, expect, it } from 'vitest';
import { addApp } from '../src/apps/apps.js';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import type { HttpAgent } from './helpers/http-agent.js';
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
