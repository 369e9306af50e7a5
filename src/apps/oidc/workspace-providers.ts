import { hkdfSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kysely } from 'kysely';
import Provider, { interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { findClientById } from '../../clients/clients.js';
import type { Config } from '../../config.js';
import { constantTimeEqual } from '../../crypto/tokens.js';
import type { Clock } from '../../shared/clock.js';
import type { Database } from '../../storage/schema.js';
import type { Workspace } from '../../workspaces/workspaces.js';
import { hashClientSecret } from '../apps.js';
import { AppClientsAdapter } from './app-clients.js';
import { porticoSessionOf } from './handed-over-session.js';
import { OidcStorageAdapter } from './oidc-storage-adapter.js';
import { loadSigningKeys, readSigningKeysVersion, type SigningKey } from './signing-keys.js';

/** The pages a provider shows in a browser, drawn by the HTTP layer. */
export interface OidcPages {
  renderError(ctx: KoaContextWithOIDC, out: { error?: string; error_description?: string }, error: unknown): Promise<void>;
  logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void>;
  postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void>;
  /** A sign-out request from a browser without a session here: the form that ends it, sent by a visible button. */
  logoutWithoutSessionSource(ctx: KoaContextWithOIDC, form: SignOutForm): Promise<void>;
}

/** The form oidc-provider's end-session step posts to its confirmation, as it would send it. */
export interface SignOutForm {
  action: string;
  fields: Record<string, string>;
}

/** Lifetimes, in seconds, of what the provider issues. */
export const oidcLifetimes = {
  authorizationCode: 60,
  accessToken: 3600,
  idToken: 3600,
  refreshToken: 30 * 24 * 3600,
  interaction: 3600,
} as const;

/**
 * How long a key stays published after a newer one signs: longer than anything it signed lives
 * (an ID token, an hour), with room for clocks that disagree.
 */
export const retiredKeyLifetimeMs = (oidcLifetimes.idToken + 15 * 60) * 1000;

/** Paths under the workspace's address; discovery stays at `/.well-known/openid-configuration`. */
export const oidcRoutes = {
  authorization: '/oidc/auth',
  backchannel_authentication: '/oidc/backchannel',
  code_verification: '/oidc/device',
  challenge: '/oidc/challenge',
  device_authorization: '/oidc/device/auth',
  end_session: '/oidc/session/end',
  introspection: '/oidc/token/introspection',
  jwks: '/oidc/jwks',
  pushed_authorization_request: '/oidc/request',
  registration: '/oidc/reg',
  revocation: '/oidc/token/revocation',
  token: '/oidc/token',
  userinfo: '/oidc/me',
  credential: '/oidc/credential',
} as const;

export const interactionPathPrefix = '/oidc/interaction/';

/** The claims each scope gives an app, in the ID token and at userinfo (userinfo.ts answers from it too). */
export const oidcClaimsByScope = { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] } as const;

/**
 * No grace after a token's or session's end: what Portico issues ends when it says. (oidc-provider
 * allows 15 s by default, for clocks of other parties; every such time here is stamped by this
 * provider's own clock, and userinfo.ts checks with the same tolerance.)
 */
export const oidcClockToleranceSeconds = 0;

/** A provider is rebuilt when its workspace's keys may have changed, checked at most this often. */
const keysCheckIntervalMs = 1000;

/** A workspace's provider, and its request handler made once (Koa composes its middleware on each `callback()`). */
export interface WorkspaceProvider {
  provider: Provider;
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>;
}

interface BuiltProvider extends WorkspaceProvider {
  url: string;
  keysVersion: string;
  checkedAt: number;
}

/**
 * One OpenID Connect provider (oidc-provider, OpenID Certified) per workspace, its issuer exactly
 * the workspace's `url`, built on first use and kept while the workspace's address and signing
 * keys stay the same. A rotation made by another instance (or the CLI) is seen within a second.
 */
export class WorkspaceProviders {
  private readonly built = new Map<string, Promise<BuiltProvider>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly config: Config,
    /** Portico's own pages for the provider's error, sign-out and signed-out answers (http/oidc-pages.ts). */
    private readonly pages: (workspace: Workspace) => OidcPages,
    /** Where a failure inside the provider is reported (its answer is a bare 500 page). */
    private readonly logError: (message: string, error: unknown) => void = () => {},
  ) {}

  async forWorkspace(workspace: Workspace): Promise<WorkspaceProvider> {
    const now = this.clock.now();
    const cached = this.built.get(workspace.id);
    if (cached) {
      const entry = await cached;
      if (entry.url === workspace.url && now - entry.checkedAt < keysCheckIntervalMs) return entry;
      if (entry.url === workspace.url && (await readSigningKeysVersion(this.db, this.clock, workspace.id)) === entry.keysVersion) {
        entry.checkedAt = now;
        return entry;
      }
      if (this.built.get(workspace.id) !== cached) return this.forWorkspace(workspace);
    }
    const building = this.build(workspace);
    this.built.set(workspace.id, building);
    building.catch(() => {
      if (this.built.get(workspace.id) === building) this.built.delete(workspace.id);
    });
    return building;
  }

  private async build(workspace: Workspace): Promise<BuiltProvider> {
    const keys = await loadSigningKeys(this.db, this.clock, workspace.id);
    const keysVersion = keys.map((key) => key.kid).join(',');
    const pages = this.pages(workspace);
    const provider = new Provider(workspace.url, providerConfiguration(this.db, this.clock, this.config, workspace, keys, pages));
    // The wrapper (http/routes/oidc-routes.ts) sets X-Forwarded-Proto and -Host from what Portico
    // itself believes (TRUST_PROXY), so oidc-provider may read them.
    provider.proxy = true;
    provider.on('server_error', (_ctx, error) => this.logError(`OpenID Connect request failed in workspace ${workspace.slug}`, error));
    useOwnPageForSignOutWithoutSession(provider, pages);
    // Secrets are stored as hashes: compare the hash of what the app sent, in constant time.
    provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
      return typeof this.clientSecret === 'string' && constantTimeEqual(this.clientSecret, hashClientSecret(actual));
    };
    return { provider, handle: provider.callback() as WorkspaceProvider['handle'], url: workspace.url, keysVersion, checkedAt: this.clock.now() };
  }
}

/**
 * An app's sign-out request (RP-initiated logout) from a browser in which oidc-provider has no
 * session gets a page of oidc-provider's own, with no configuration hook: end_session.js hands the
 * confirmation form to response_modes/form_post.js, whose page is English, unbranded, and moved on
 * only by an inline script (issue 15). Once oidc-provider has answered, and only then, Portico's
 * page takes its place with the same form: the secret oidc-provider has just stored in its session
 * and `logout=yes`, posted to its confirmation, which checks them and sends the browser on to the
 * app's registered address (oidc-provider checked it above) or to its signed-out page.
 */
function useOwnPageForSignOutWithoutSession(provider: Provider, pages: OidcPages): void {
  provider.use(async (koaContext, next) => {
    await next();
    const ctx = koaContext as KoaContextWithOIDC;
    const oidc = ctx.oidc as (KoaContextWithOIDC['oidc'] & { urlFor(route: string): string }) | undefined;
    if (oidc?.route !== 'end_session' || ctx.status !== 200 || !oidc.session || oidc.session.accountId) return;
    const secret = oidc.session.state?.secret;
    if (typeof secret !== 'string') return;
    await pages.logoutWithoutSessionSource(ctx, { action: oidc.urlFor('end_session_confirm'), fields: { xsrf: secret, logout: 'yes' } });
  });
}

/** Symmetric keys for oidc-provider's signed cookies, derived from the signing keys every instance shares. */
function cookieKeysFrom(keys: SigningKey[]): string[] {
  return keys.map((key) => Buffer.from(hkdfSync('sha256', Buffer.from(String(key.d), 'base64url'), 'portico-oidc-cookies', key.kid, 32)).toString('base64url'));
}

function providerConfiguration(db: Kysely<Database>, clock: Clock, config: Config, workspace: Workspace, keys: SigningKey[], pages: OidcPages): Configuration {
  const secure = workspace.url.startsWith('https:');
  const cookie = { signed: true, httpOnly: true, sameSite: 'lax' as const, secure };
  return {
    adapter: (model: string) => (model === 'Client' ? new AppClientsAdapter(db, workspace.id) : new OidcStorageAdapter(db, clock, workspace.id, model)),
    jwks: { keys: keys as never },
    cookies: {
      keys: cookieKeysFrom(keys),
      names: { session: 'portico_oidc_session', interaction: 'portico_oidc_interaction', resume: 'portico_oidc_resume' },
      long: cookie,
      short: cookie,
    },
    routes: oidcRoutes,
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    claims: { openid: [...oidcClaimsByScope.openid], email: [...oidcClaimsByScope.email], profile: [...oidcClaimsByScope.profile] },
    clockTolerance: oidcClockToleranceSeconds,
    // The claims of the scopes asked go in the ID token too, not only in userinfo.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    // A browser app (a single-page app, a public app) may call the token endpoint from the origin
    // it registered a redirect URI on, and from no other.
    clientBasedCORS: (_ctx, origin, client) => client.redirectUris?.some((uri) => new URL(uri).origin === origin) ?? false,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: { idTokenSigningAlgValues: ['RS256'], userinfoSigningAlgValues: ['RS256'], introspectionSigningAlgValues: ['RS256'], authorizationSigningAlgValues: ['RS256'] },
    features: {
      devInteractions: { enabled: false },
      // An app learns about its own tokens only, not another app's clients.
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      // Not offered: it is one more endpoint taking client secrets, and no app here needs it.
      pushedAuthorizationRequests: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource: pages.logoutSource, postLogoutSuccessSource: pages.postLogoutSuccessSource },
      claimsParameter: { enabled: false },
    },
    ttl: {
      AuthorizationCode: oidcLifetimes.authorizationCode,
      AccessToken: oidcLifetimes.accessToken,
      IdToken: oidcLifetimes.idToken,
      RefreshToken: oidcLifetimes.refreshToken,
      Interaction: oidcLifetimes.interaction,
      Grant: oidcLifetimes.refreshToken,
      Session: Math.ceil(config.session.maxAgeMs / 1000),
    },
    interactions: {
      url: (_ctx, interaction) => `${interactionPathPrefix}${interaction.uid}`,
      policy: authorizationPolicy(),
    },
    async findAccount(_ctx, sub) {
      const client = await findClientById(db, workspace.id, sub);
      if (!client || client.disabled_at !== null) return undefined;
      return {
        accountId: client.id,
        async claims() {
          return { sub: client.id, email: client.email, email_verified: true, ...(client.name ? { name: client.name } : {}) };
        },
      };
    },
    renderError: pages.renderError,
  };
}

/**
 * The sign-in that counts is the Portico session of this browser, whatever oidc-provider's own
 * session remembers: signed out of Portico, or signed in as someone else, the app's request goes
 * through the workspace's doors again.
 */
function authorizationPolicy() {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  login.checks.add(
    new interactionPolicy.Check('portico_session', 'the client must sign in to the workspace', 'login_required', (ctx) => {
      if (ctx.oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const session = porticoSessionOf(ctx.req);
      if (!session || session.clientId !== ctx.oidc.session?.accountId) return interactionPolicy.Check.REQUEST_PROMPT;
      return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
    0,
  );
  return policy;
}
