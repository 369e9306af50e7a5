#!/usr/bin/env node
// A portal app that relies on Portico for sign-in, through OpenID Connect with `openid-client`.
//   PORTICO_ISSUER=https://portal.acme.example CLIENT_ID=app_… CLIENT_SECRET=… \
//   APP_URL=https://app.acme.example node examples/oidc-app/app.mjs
// Register it first: npx portico app add --workspace acme --name "Acme portal" \
//   --redirect-uri https://app.acme.example/callback --post-logout-redirect-uri https://app.acme.example/
// PORT picks the port (3001 by default); ALLOW_HTTP=true lets it talk to an http:// issuer (local trials only).
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import * as oidc from 'openid-client';

const { PORTICO_ISSUER, CLIENT_ID, CLIENT_SECRET, APP_URL = 'http://localhost:3001', PORT = '3001' } = process.env;
const insecure = process.env.ALLOW_HTTP === 'true' ? { execute: [oidc.allowInsecureRequests] } : undefined;
const config = await oidc.discovery(new URL(PORTICO_ISSUER), CLIENT_ID, CLIENT_SECRET, undefined, insecure);
const sessions = new Map(); // cookie value -> { pkce, state } while signing in, then { claims, idToken }

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, APP_URL);
  const sid = /(?:^|; )app_session=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
  const session = sid ? sessions.get(sid) : undefined;
  const redirect = (location, cookie) => res.writeHead(303, { location: String(location), ...(cookie ? { 'set-cookie': cookie } : {}) }).end();
  try {
    if (url.pathname === '/login') {
      const pkce = oidc.randomPKCECodeVerifier(), state = oidc.randomState(), id = randomBytes(24).toString('base64url');
      sessions.set(id, { pkce, state });
      const target = oidc.buildAuthorizationUrl(config, { redirect_uri: `${APP_URL}/callback`, scope: 'openid email profile', code_challenge: await oidc.calculatePKCECodeChallenge(pkce), code_challenge_method: 'S256', state });
      return redirect(target, `app_session=${id}; HttpOnly; SameSite=Lax; Path=/`);
    }
    if (url.pathname === '/callback' && session?.pkce) {
      const tokens = await oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: session.pkce, expectedState: session.state });
      sessions.set(sid, { claims: tokens.claims(), idToken: tokens.id_token });
      return redirect(`${APP_URL}/`);
    }
    if (url.pathname === '/logout' && session?.idToken) {
      sessions.delete(sid);
      return redirect(oidc.buildEndSessionUrl(config, { id_token_hint: session.idToken, post_logout_redirect_uri: `${APP_URL}/` }));
    }
    const who = session?.claims ? `Signed in as <b id="who">${escape(session.claims.email)}</b>. <a href="/logout">Sign out</a>` : '<a href="/login">Sign in</a>';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>Portal</title><p>${who}</p>`);
  } catch (error) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`Sign-in failed: ${error.message}`);
  }
});
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
server.listen(Number(PORT), '127.0.0.1', () => console.log(`app listening on http://127.0.0.1:${server.address().port}`));
