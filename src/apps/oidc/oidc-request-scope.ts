import { AsyncLocalStorage } from 'node:async_hooks';
import type { ValidSession } from '../../sessions/sessions.js';

/**
 * What Portico knows of the request oidc-provider is handling, which oidc-provider's hooks do not
 * receive: the visitor's Portico session (the one sign-in that counts, checked by the
 * authorization policy) and how an app presented its secret (an app may use either the HTTP Basic
 * header or the form field, and oidc-provider checks the one an app is registered with).
 */
export interface OidcRequestScope {
  readonly porticoSession: ValidSession | null;
  readonly clientAuthMethod: 'client_secret_basic' | 'client_secret_post';
}

export const oidcRequestScope = new AsyncLocalStorage<OidcRequestScope>();
