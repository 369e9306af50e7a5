import { hash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../errors.js';
import type { Clock } from '../shared/clock.js';
import { readOneLineName } from '../shared/one-line-name.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { AppTable, Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';

/** An app registered to rely on a workspace's sign-in through OpenID Connect (issue 15). */
export interface App {
  clientId: string;
  workspaceId: string;
  name: string;
  /** sha256 of the secret, hex; null for a public app, which proves itself with PKCE alone. */
  secretHash: string | null;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
}

export interface AppInput {
  name: string;
  redirectUris: readonly string[];
  postLogoutRedirectUris?: readonly string[];
  public?: boolean;
}

const maxUris = 20;
const maxUriLength = 2000;

/** What `app add|list --json` prints: never the secret's hash. */
export function describeApp(app: App) {
  return { clientId: app.clientId, name: app.name, redirectUris: app.redirectUris, postLogoutRedirectUris: app.postLogoutRedirectUris, public: app.secretHash === null };
}

/**
 * The hash a client secret is stored and compared as. The secret is 256 random bits, so a plain
 * fast hash leaves nothing to brute-force (as for sign-in links, crypto/tokens.ts).
 */
export function hashClientSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/**
 * Registers an app: a fresh client id, and for a confidential app a secret returned here once and
 * stored only as its hash.
 */
export async function addApp(db: Kysely<Database>, clock: Clock, workspace: Workspace, input: AppInput): Promise<{ app: App; clientSecret: string | null }> {
  const name = readAppName(input.name);
  const redirectUris = readUris(input.redirectUris, 'redirect');
  if (redirectUris.length === 0) throw new AppError('APP_REDIRECT_URI_INVALID', { message: 'An app needs at least one --redirect-uri, such as https://app.example.com/callback.' });
  const postLogoutRedirectUris = readUris(input.postLogoutRedirectUris ?? [], 'post-logout redirect');
  const clientSecret = input.public ? null : randomBytes(32).toString('base64url');
  const app: App = {
    clientId: `app_${randomBytes(12).toString('base64url')}`,
    workspaceId: workspace.id,
    name,
    secretHash: clientSecret === null ? null : hashClientSecret(clientSecret),
    redirectUris,
    postLogoutRedirectUris,
  };
  await db
    .insertInto('apps')
    .values({
      client_id: app.clientId,
      workspace_id: workspace.id,
      name,
      secret_hash: app.secretHash,
      redirect_uris: JSON.stringify(redirectUris),
      post_logout_redirect_uris: JSON.stringify(postLogoutRedirectUris),
      created_at: clock.now(),
    })
    .execute();
  return { app, clientSecret };
}

export async function listApps(db: Kysely<Database>, workspace: Workspace): Promise<App[]> {
  const rows = await db.selectFrom('apps').selectAll().where('workspace_id', '=', workspace.id).orderBy('created_at').orderBy('client_id').execute();
  return rows.map(toApp);
}

// Compiled once: oidc-provider reads the app on every token exchange and userinfo request.
const selectApp = prepareQuery((db, workspaceId: string, clientId: string) => db.selectFrom('apps').selectAll().where('workspace_id', '=', workspaceId).where('client_id', '=', clientId));

/** The app of this workspace with this client id, or null: another workspace's app is not found. */
export async function findApp(db: Kysely<Database>, workspaceId: string, clientId: string): Promise<App | null> {
  const [row] = await selectApp(db, workspaceId, clientId);
  return row ? toApp(row) : null;
}

/** Removes an app and everything issued to it, in one transaction: its tokens stop working at once. */
export async function removeApp(db: Kysely<Database>, workspace: Workspace, clientId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const removed = await trx.deleteFrom('apps').where('workspace_id', '=', workspace.id).where('client_id', '=', clientId).executeTakeFirst();
    if (Number(removed.numDeletedRows) === 0) throw new AppError('APP_NOT_FOUND', { message: `No app with the client id "${clientId}" in the workspace "${workspace.slug}".` });
    await trx.deleteFrom('oidc_payloads').where('workspace_id', '=', workspace.id).where('app_id', '=', clientId).execute();
  });
}

function toApp(row: Selectable<AppTable>): App {
  return {
    clientId: row.client_id,
    workspaceId: row.workspace_id,
    name: row.name,
    secretHash: row.secret_hash,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    postLogoutRedirectUris: JSON.parse(row.post_logout_redirect_uris) as string[],
  };
}

function readAppName(name: string): string {
  const read = readOneLineName(name);
  if (!read.ok) throw new AppError('APP_NAME_INVALID', { message: `The app name ${read.problem}.` });
  return read.name;
}

/**
 * Redirect URIs are compared exactly, character for character, when an app sends one (no
 * prefix or pattern matching, so no open redirect): each is checked here to be a plain absolute
 * http(s) address, as the app will send it.
 */
function readUris(uris: readonly string[], kind: string): string[] {
  if (uris.length > maxUris) throw new AppError('APP_REDIRECT_URI_INVALID', { message: `An app has at most ${maxUris} ${kind} URIs.` });
  const read = uris.map((uri) => {
    const problem = uriProblem(uri);
    if (problem) throw new AppError('APP_REDIRECT_URI_INVALID', { message: `The ${kind} URI "${uri.slice(0, 200)}" cannot be used: ${problem}.` });
    return uri;
  });
  return [...new Set(read)];
}

function uriProblem(uri: string): string | null {
  if (uri.length > maxUriLength) return `it is longer than ${maxUriLength} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f\\]/.test(uri)) return 'it contains spaces, control characters or backslashes';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'it is not an absolute address (it must start with https://)';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'only http and https addresses are allowed';
  if (url.username || url.password) return 'it must not carry a user name or password';
  if (uri.includes('#')) return 'it must not have a fragment (#…)';
  // One spelling, the one the app must send: compared exactly, `HTTPS://App.example.com` would never match.
  if (url.href !== uri) return `write it as ${url.href}`;
  return null;
}
