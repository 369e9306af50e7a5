import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addApp } from '../src/apps/apps.js';
import { addClient } from '../src/clients/clients.js';
import { systemClock } from '../src/shared/clock.js';
import { openDatabase, type DatabaseHandle } from '../src/storage/database.js';
import { createWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { createTestDatabase, type TestDatabase } from './helpers/databases.js';
import { HttpAgent } from './helpers/http-agent.js';
import { leakedSecrets } from './helpers/issued-secrets.js';
import { generousLimits, runPorticoCommand, startPorticoProcess, type PorticoProcess } from './helpers/portico-process.js';
import { discoverWorkspace, followOnWorkspace } from './helpers/relying-party.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';

// Issue 15 item 4: several `portico serve` processes on one PostgreSQL database share all of
// OpenID Connect. One relying party is configured against each instance with the same issuer (the
// workspace's address); a browser signed in once gets its codes from either.

const callback = 'http://app.example/callback';
const email = 'client@example.com';

type Jwks = { keys: (JsonWebKey & { kid: string })[] };

/** Whether the ID token's RS256 signature verifies with the key of its `kid` in `jwks`. */
function verifiesAgainst(idToken: string, jwks: Jwks): boolean {
  const [header, payload, signature] = idToken.split('.') as [string, string, string];
  const { kid, alg } = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { kid: string; alg: string };
  const jwk = jwks.keys.find((key) => key.kid === kid);
  if (!jwk || alg !== 'RS256') return false;
  return verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url'));
}

function kidOf(idToken: string): string {
  return (JSON.parse(Buffer.from(idToken.split('.')[0]!, 'base64url').toString('utf8')) as { kid: string }).kid;
}

/** The error code of a token endpoint refusal, as openid-client reports it. */
async function refusal(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
  } catch (error) {
    return (error as { error?: string }).error ?? String(error);
  }
  throw new Error('expected the token endpoint to refuse');
}

describe('OpenID Connect on two instances sharing one PostgreSQL database (issue 15 item 4)', () => {
  let sink: SmtpSink;
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let instances: [PorticoProcess, PorticoProcess];
  let workspace: Workspace;
  /** One relying party per instance, same issuer, same app. */
  let relyingParties: [oidc.Configuration, oidc.Configuration];
  /** A browser signed in to the workspace (Portico's and oidc-provider's cookies), usable on either instance. */
  let signedInCookies: Map<string, string>;

  const agentOn = (instance: PorticoProcess) => {
    const agent = new HttpAgent(instance.address, workspace.url);
    for (const [name, value] of signedInCookies ?? []) agent.cookies.set(name, value);
    return agent;
  };

  async function authorize(config: oidc.Configuration) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: callback,
      scope: 'openid email offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      prompt: 'consent',
    });
    return { url, verifier, state };
  }

  /** A fresh code, from the signed-in browser on `instance`: it goes straight through, no page, no mail. */
  async function freshCode(instance: PorticoProcess) {
    const { url, verifier, state } = await authorize(relyingParties[0]);
    const step = await followOnWorkspace(agentOn(instance), url.href, workspace.url);
    expect(step.leftTo?.origin, `the browser stopped at ${step.lastPath} (${step.status})`).toBe('http://app.example');
    expect(step.leftTo!.searchParams.get('code')).toBeTruthy();
    return { callbackUrl: step.leftTo!, verifier, state };
  }

  const redeem = (config: oidc.Configuration, code: Awaited<ReturnType<typeof freshCode>>) => oidc.authorizationCodeGrant(config, code.callbackUrl, { pkceCodeVerifier: code.verifier, expectedState: code.state });

  const userinfoStatus = async (instance: PorticoProcess, accessToken: string) => (await new HttpAgent(instance.address, workspace.url).get('/oidc/me', { headers: { authorization: `Bearer ${accessToken}` } })).status;

  const jwksOf = async (instance: PorticoProcess) => (await new HttpAgent(instance.address, workspace.url).get('/oidc/jwks')).json<Jwks>();

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    database = await createTestDatabase('postgres');
    // Debug logging, so the check at the end that no code, token or cookie reached the logs means something.
    instances = (await Promise.all([1, 2].map(() => startPorticoProcess({ DATABASE_URL: database.url, SMTP_URL: sink.url, LOG_LEVEL: 'debug', ...generousLimits })))) as [PorticoProcess, PorticoProcess];
    handle = await openDatabase(database.url);
    workspace = await createWorkspace(handle.db, systemClock, { name: 'Scale OIDC', url: 'http://oidc-scale.test:8080' });
    await addClient(handle.db, systemClock, workspace, { email, name: 'Cléa Client' });
    const { app, clientSecret } = await addApp(handle.db, systemClock, workspace, { name: 'Acme portal', redirectUris: [callback] });
    relyingParties = (await Promise.all(instances.map((instance) => discoverWorkspace(instance.address, workspace.url, app.clientId, clientSecret!)))) as [oidc.Configuration, oidc.Configuration];

    // The one sign-in with mail: the app's request on A sends the browser through the magic link.
    const browser = new HttpAgent(instances[0].address, workspace.url);
    const { url } = await authorize(relyingParties[0]);
    const step = await followOnWorkspace(browser, url.href, workspace.url);
    expect(step.lastPath).toMatch(/^\/magic-login\?next=%2Foidc%2Finteraction%2F/);
    const next = new URL(step.lastPath, workspace.url).searchParams.get('next')!;
    expect((await browser.post('/magic-login', { email, next })).status).toBe(200);
    const [mail] = await sink.waitForMails(email);
    const verified = await browser.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, workspace.url)) });
    // A page that moves on to the app's sign-in step by itself (http/continue-after-sign-in.ts).
    expect(verified.status).toBe(200);
    const back = await followOnWorkspace(browser, next, workspace.url);
    expect(back.leftTo?.origin).toBe('http://app.example');
    signedInCookies = new Map(browser.cookies);
    expect([...signedInCookies.keys()]).toContain('portico_oidc_session');
  });

  afterAll(async () => {
    await Promise.all((instances ?? []).map((instance) => instance.stop()));
    await handle?.close();
    await database?.drop();
    await sink?.stop();
    for (const instance of instances ?? []) expect(leakedSecrets(instance.output.join('')), 'an issued secret in the logs of an instance').toEqual([]);
  });

  it('redeems on B a code issued on A, once: replayed on A it is refused and what it issued stops working', async () => {
    const [a, b] = instances;
    const code = await freshCode(a);
    const tokens = await redeem(relyingParties[1], code);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: workspace.url, email, email_verified: true });
    expect(await userinfoStatus(a, tokens.access_token)).toBe(200);
    expect(await userinfoStatus(b, tokens.access_token)).toBe(200);
    expect(tokens.refresh_token).toBeTruthy();

    expect(await refusal(redeem(relyingParties[0], code))).toBe('invalid_grant');
    // RFC 6749 4.1.2: a code used twice revokes the tokens it was exchanged for, on every instance.
    expect(await userinfoStatus(a, tokens.access_token)).toBe(401);
    expect(await userinfoStatus(b, tokens.access_token)).toBe(401);
    expect(await refusal(oidc.refreshTokenGrant(relyingParties[0], tokens.refresh_token!))).toBe('invalid_grant');

    // The browser's sign-in is untouched: the next code works.
    const another = await redeem(relyingParties[0], await freshCode(b));
    expect(another.claims()?.sub).toBe(claims.sub);
    expect(await userinfoStatus(b, another.access_token)).toBe(200);
  });

  it('lets exactly one of the same code sent to A and B at the same moment through, ten times over', async () => {
    const [a, b] = instances;
    for (let round = 0; round < 10; round += 1) {
      const code = await freshCode(round % 2 === 0 ? a : b);
      const outcomes = await Promise.allSettled([redeem(relyingParties[0], code), redeem(relyingParties[1], code)]);
      const succeeded = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const refused = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      expect(succeeded, `round ${round}`).toHaveLength(1);
      expect(refused.map((outcome) => (outcome.reason as { error?: string }).error ?? String(outcome.reason)), `round ${round}`).toEqual(['invalid_grant']);
      // The loser saw a code already used: what the winner got is revoked with it, wherever it is asked.
      const { access_token: accessToken } = (succeeded[0] as PromiseFulfilledResult<oidc.TokenEndpointResponse>).value;
      expect(await userinfoStatus(a, accessToken), `round ${round}`).toBe(401);
      expect(await userinfoStatus(b, accessToken), `round ${round}`).toBe(401);
    }
  });

  it('`portico workspace rotate-keys` while both serve: both publish both keys within 1.5 s, sign with the new one, and still verify the old', async () => {
    const [a, b] = instances;
    const before = await redeem(relyingParties[0], await freshCode(a));
    const oldJwks = await jwksOf(a);
    expect(oldJwks.keys).toHaveLength(1);
    expect(oldJwks.keys[0]).not.toHaveProperty('d');
    const oldKid = oldJwks.keys[0]!.kid;
    expect(kidOf(before.id_token!)).toBe(oldKid);
    expect((await jwksOf(b)).keys.map((key) => key.kid)).toEqual([oldKid]);

    const rotation = await runPorticoCommand(['workspace', 'rotate-keys', workspace.slug, '--json'], { DATABASE_URL: database.url });
    const rotatedAt = Date.now();
    expect(rotation.stderr).toBe('');
    expect(rotation.code).toBe(0);
    const { kid: newKid } = JSON.parse(rotation.stdout) as { kid: string };
    expect(newKid).not.toBe(oldKid);

    const published = [false, false];
    while (!published.every(Boolean) && Date.now() - rotatedAt < 1500) {
      for (const [index, instance] of instances.entries()) {
        if (!published[index]) published[index] = (await jwksOf(instance)).keys.map((key) => key.kid).sort().join() === [oldKid, newKid].sort().join();
      }
      if (!published.every(Boolean)) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(published, 'both instances publish the old and the new key within 1.5 s').toEqual([true, true]);

    for (const [issuedOn, redeemedAt] of [
      [a, 1],
      [b, 0],
    ] as const) {
      const after = await redeem(relyingParties[redeemedAt], await freshCode(issuedOn));
      expect(kidOf(after.id_token!)).toBe(newKid);
      expect(await userinfoStatus(issuedOn, after.access_token)).toBe(200);
    }
    for (const instance of instances) {
      const jwks = await jwksOf(instance);
      expect(jwks.keys.every((key) => !('d' in key))).toBe(true);
      // The ID token signed before the rotation stays verifiable until it has expired.
      expect(verifiesAgainst(before.id_token!, jwks)).toBe(true);
    }
    // The browser's sign-in (oidc-provider's cookies, signed with keys derived from the old key) still goes straight through.
    expect((await redeem(relyingParties[1], await freshCode(b))).claims()?.email).toBe(email);
  });
});
