import type { Kysely } from 'kysely';
import type { Adapter, AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { Database } from '../../storage/schema.js';
import { findApp } from '../apps.js';

/**
 * oidc-provider's "Client" model read from the apps the owner registered (`portico app add`), so
 * there is one list of apps, not a copy. The secret handed over is the stored hash, compared with
 * the hash of what the app sends (workspace-providers.ts): the secret itself is kept nowhere.
 */
export class AppClientsAdapter implements Adapter {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly workspaceId: string,
  ) {}

  async find(clientId: string): Promise<AdapterPayload | undefined> {
    const app = await findApp(this.db, this.workspaceId, clientId);
    if (!app) return undefined;
    const metadata: ClientMetadata = {
      client_id: app.clientId,
      client_name: app.name,
      redirect_uris: app.redirectUris,
      post_logout_redirect_uris: app.postLogoutRedirectUris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      // When the client signed in, in every ID token: an app deciding whether to ask again needs it.
      require_auth_time: true,
      // An app may send its secret either way, HTTP Basic or the form: oidc-provider 8 takes either
      // for a client registered with one of them (lib/shared/token_auth.js), and refuses both at once.
      ...(app.secretHash === null ? { token_endpoint_auth_method: 'none' } : { client_secret: app.secretHash, token_endpoint_auth_method: 'client_secret_basic' }),
    };
    return metadata as AdapterPayload;
  }

  async upsert(): Promise<void> {
    throw new Error('apps are registered with `portico app add`, not through OpenID Connect');
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {}

  async destroy(): Promise<void> {}

  async revokeByGrantId(): Promise<void> {}
}
