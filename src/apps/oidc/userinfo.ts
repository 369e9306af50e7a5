import type { Kysely } from 'kysely';
import { hashSecretToken } from '../../crypto/tokens.js';
import { prepareQuery } from '../../storage/prepared-query.js';
import type { Database } from '../../storage/schema.js';
import { grantStillHolds, selectSessionPayloadByUid } from './oidc-storage-adapter.js';
import { oidcClaimsByScope, oidcClockToleranceSeconds } from './workspace-providers.js';

/**
 * Userinfo's answer to a plain request, without oidc-provider's request machinery (issue 15's
 * target is 10,000 a second; oidc-provider's userinfo spends about 230 µs of the main thread on
 * one, its cheapest route 40 µs on nothing). This answers only what it can prove oidc-provider
 * would answer with the claims: a token of exactly the shape this configuration issues (opaque,
 * not sender-constrained, no audience, no claims request), every check of oidc-provider's
 * userinfo passed, from the same rows. Anything else, every refusal included, is `null`: the
 * request then goes to oidc-provider, which checks it all again and gives the standard answer. So
 * the hand-written part can only ever say less than the certified one, never more.
 *
 * The checks, in oidc-provider 8's order (lib/actions/userinfo.js and the models it loads):
 * the token exists in this workspace and has not expired; its grant row, client and generation
 * still hold (as every token lookup, oidc-storage-adapter.ts); a token bound to oidc-provider's
 * session needs that session, for the same account and grant; scope includes `openid`; the app
 * is still registered; the account (Portico client) exists and is enabled; the grant has not
 * expired and is the token's app's and account's. The claims are those of the scopes the token
 * carries that the grant also granted, as oidc-provider's Claims picks them.
 */
export async function answerUserinfo(db: Kysely<Database>, workspaceId: string, accessToken: string): Promise<Record<string, unknown> | null> {
  const [row] = await selectAccessTokenForUserinfo(db, hashSecretToken(accessToken), workspaceId);
  if (!row || row.app_client_id === null || row.grant_payload === null || !grantStillHolds(row)) return null;
  const token = parseObject(row.payload);
  const grant = parseObject(row.grant_payload);
  if (!token || !grant || !hasOnlyKnownKeys(token, accessTokenKeys)) return null;
  // oidc-provider stamps and checks `exp` by its own clock, the system's.
  const now = Math.floor(Date.now() / 1000);
  if (token.kind !== 'AccessToken' || !isNumber(token.exp) || now - oidcClockToleranceSeconds >= token.exp) return null;
  if (token.iat !== undefined && !isNumber(token.iat)) return null;
  if (typeof token.scope !== 'string' || typeof token.clientId !== 'string' || typeof token.accountId !== 'string' || typeof token.grantId !== 'string') return null;
  // Claims asked for the ID token (`auth_time`, which every app gets) do not touch userinfo; a claims request for userinfo would.
  if (token.claims !== undefined && !(isObject(token.claims) && hasOnlyKnownKeys(token.claims, new Set(['id_token'])))) return null;
  if (token.accountId !== row.client_id || token.clientId !== row.app_client_id) return null;
  if (token.expiresWithSession !== undefined) {
    // A token stored before its row recorded the session's uid (migration 0015) finds it by itself.
    const sessionPayload = row.token_session_uid === null && typeof token.sessionUid === 'string' ? await sessionPayloadByUid(db, workspaceId, token.sessionUid) : row.session_payload;
    if (!sessionStillBinds(sessionPayload, token, now)) return null;
  }
  const tokenScopes = new Set(token.scope.split(' '));
  if (!tokenScopes.has('openid')) return null;
  if (grant.kind !== 'Grant' || !isNumber(grant.exp) || grant.exp <= now || grant.clientId !== token.clientId || grant.accountId !== token.accountId) return null;
  if (grant.rejected !== undefined || !hasOnlyKnownKeys(grant, grantKeys)) return null;
  const granted = (grant.openid as { scope?: unknown } | undefined)?.scope;
  if (typeof granted !== 'string') return null;

  const available: Record<string, unknown> = { sub: row.client_id, email: row.email, email_verified: true, ...(row.name ? { name: row.name } : {}) };
  const claims: Record<string, unknown> = {};
  for (const scope of granted.split(' ')) {
    if (!tokenScopes.has(scope)) continue;
    for (const claim of oidcClaimsByScope[scope as keyof typeof oidcClaimsByScope] ?? []) {
      if (available[claim] !== undefined) claims[claim] = available[claim];
    }
  }
  return claims;
}

/** What an access token of this configuration carries; a key outside it means a feature this path does not know. */
const accessTokenKeys = new Set(['kind', 'iat', 'exp', 'accountId', 'clientId', 'grantId', 'gty', 'scope', 'sessionUid', 'expiresWithSession', 'sid', 'claims']);
const grantKeys = new Set(['kind', 'iat', 'exp', 'accountId', 'clientId', 'openid', 'jti']);

/** The token, its grant, the client (the account), the app and oidc-provider's session the token may be bound to, in one statement. */
const selectAccessTokenForUserinfo = prepareQuery((db, idHash: string, workspaceId: string) =>
  db
    .selectFrom('oidc_payloads as token')
    .leftJoin('oidc_payloads as grants', (join) =>
      join.onRef('grants.grant_id', '=', 'token.grant_id').onRef('grants.workspace_id', '=', 'token.workspace_id').on('grants.model', '=', 'Grant'),
    )
    .leftJoin('clients', (join) => join.onRef('clients.id', '=', 'token.account_id').onRef('clients.workspace_id', '=', 'token.workspace_id'))
    .leftJoin('apps', (join) => join.onRef('apps.client_id', '=', 'token.app_id').onRef('apps.workspace_id', '=', 'token.workspace_id'))
    .select([
      // The row oidc-provider's own lookup finds (selectSessionPayloadByUid), should two ever share a uid.
      (eb) =>
        eb
          .selectFrom('oidc_payloads as session')
          .select('session.payload')
          .where('session.model', '=', 'Session')
          .whereRef('session.session_uid', '=', 'token.session_uid')
          .whereRef('session.workspace_id', '=', 'token.workspace_id')
          .orderBy('session.id_hash')
          .limit(1)
          .as('session_payload'),
      'token.session_uid as token_session_uid',
      'token.payload',
      'grants.payload as grant_payload',
      'grants.client_generation as grant_generation',
      'clients.session_generation',
      'clients.disabled_at',
      'clients.id as client_id',
      'clients.email',
      'clients.name',
      'apps.client_id as app_client_id',
    ])
    .where('token.model', '=', 'AccessToken')
    .where('token.id_hash', '=', idHash)
    .where('token.workspace_id', '=', workspaceId),
);

/** A token that ends with oidc-provider's session holds while that session does, for the same account and grant. */
function sessionStillBinds(sessionPayload: string | null, token: Record<string, unknown>, now: number): boolean {
  if (token.expiresWithSession !== true || typeof token.sessionUid !== 'string' || sessionPayload === null) return false;
  const session = parseObject(sessionPayload);
  // The session's own uid, not only the column the row was found by.
  if (!session || session.uid !== token.sessionUid || !isNumber(session.exp) || now - oidcClockToleranceSeconds >= session.exp) return false;
  const authorization = (session.authorizations as Record<string, { grantId?: unknown }> | undefined)?.[token.clientId as string];
  return session.accountId === token.accountId && authorization?.grantId === token.grantId;
}

async function sessionPayloadByUid(db: Kysely<Database>, workspaceId: string, uid: string): Promise<string | null> {
  const [row] = await selectSessionPayloadByUid(db, 'Session', uid, workspaceId);
  return row?.payload ?? null;
}

function parseObject(json: string): Record<string, unknown> | null {
  const value: unknown = JSON.parse(json);
  return isObject(value) ? value : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function hasOnlyKnownKeys(payload: Record<string, unknown>, known: Set<string>): boolean {
  return Object.keys(payload).every((key) => known.has(key));
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
