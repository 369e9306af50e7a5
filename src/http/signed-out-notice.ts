import type { FastifyInstance } from 'fastify';
import type { PorticoContext } from '../context.js';
import { looksLikeSecretToken } from '../crypto/tokens.js';
import { takeSessionEndReason, type SessionEndReason } from '../sessions/session-endings.js';
import { clearSessionCookie, readSessionCookie } from './session-cookie.js';

/** The sentence a browser signed out from elsewhere reads on the sign-in page. Fixed text, never from the request. */
const signedOutBecause: Record<SessionEndReason, string> = {
  signed_out_elsewhere: 'You were signed out because this browser was signed out from another one, on the account page.',
  signed_out_others: 'You were signed out because “Sign out other sessions” was used in another browser.',
  signed_out_everywhere: 'You were signed out because “Sign out everywhere” was used in another browser.',
  password_changed: 'You were signed out because the password of this account was changed.',
  password_set: 'You were signed out because a password was set for this account.',
  password_reset: 'You were signed out because the password of this account was reset.',
  client_disabled: 'You were signed out because this account was disabled. Contact the people who run this portal.',
};

/** The sign-in pages, where a browser whose session was ended from elsewhere lands next. */
const signInPages = new Set(['/login', '/magic-login']);

/**
 * On a sign-in page, a browser still holding the cookie of a session that was ended from elsewhere
 * is told why (issue 17 item 2), once: the note is taken and the dead cookie cleared. Only a
 * request with a session cookie costs a lookup, by primary key.
 */
export function registerSignedOutNotice(app: FastifyInstance, context: PorticoContext): void {
  app.decorateRequest('signedOutNotice', null);
  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'GET' || !signInPages.has(request.routeOptions.url ?? '')) return;
    const token = readSessionCookie(request);
    if (!looksLikeSecretToken(token)) return;
    const reason = await takeSessionEndReason(context.db, context.clock.now(), request.workspace.id, token);
    if (!reason) return;
    request.signedOutNotice = signedOutBecause[reason];
    clearSessionCookie(reply, request.workspace);
  });
}
