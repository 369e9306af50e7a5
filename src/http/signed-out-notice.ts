import type { FastifyInstance } from 'fastify';
import type { PorticoContext } from '../context.js';
import { looksLikeSecretToken } from '../crypto/tokens.js';
import { takeSessionEndReason, type SessionEndReason } from '../sessions/session-endings.js';
import { clearSessionCookie, readSessionCookie } from './session-cookie.js';

/** The sentence (its message key) a browser signed out from elsewhere reads on the sign-in page. Fixed text, never from the request. */
const signedOutBecause: Record<SessionEndReason, string> = {
  signed_out_elsewhere: 'signedOutNotice.signedOutElsewhere',
  signed_out_others: 'signedOutNotice.signedOutOthers',
  signed_out_everywhere: 'signedOutNotice.signedOutEverywhere',
  password_changed: 'signedOutNotice.passwordChanged',
  password_set: 'signedOutNotice.passwordSet',
  password_reset: 'signedOutNotice.passwordReset',
  client_disabled: 'signedOutNotice.clientDisabled',
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
