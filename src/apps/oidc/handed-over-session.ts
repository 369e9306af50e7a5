import type { IncomingMessage } from 'node:http';
import type { ValidSession } from '../../sessions/sessions.js';

/**
 * The visitor's Portico session for the request oidc-provider is handling (the one sign-in that
 * counts, checked by the authorization policy), which oidc-provider's hooks do not receive. Kept
 * by the request object itself, which oidc-provider's hooks see as `ctx.req`: an
 * AsyncLocalStorage would do the same, but once used it puts a hook on every promise of the
 * process, every other path's included.
 */
const porticoSessions = new WeakMap<IncomingMessage, ValidSession | null>();

/** Records the Portico session of a request before it is handed to oidc-provider. */
export function handOverPorticoSession(request: IncomingMessage, session: ValidSession | null): void {
  porticoSessions.set(request, session);
}

/** The Portico session of a request handed to oidc-provider; null when there is none, or it was not handed over. */
export function porticoSessionOf(request: IncomingMessage): ValidSession | null {
  return porticoSessions.get(request) ?? null;
}
