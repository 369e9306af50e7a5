import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PorticoContext } from '../../context.js';
import { constantTimeEqual, hashSecretToken, looksLikeSecretToken } from '../../crypto/tokens.js';
import { inspectMagicLinkToken, type MagicLinkRejection } from '../../magic-links/magic-links.js';
import { parseNextPath } from '../../magic-links/next-path.js';
import { redeemMagicLink } from '../../magic-links/redeem-magic-link.js';
import { requestMagicLink } from '../../magic-links/request-magic-link.js';
import { endClientSession } from '../../sessions/sessions.js';
import { describeDuration } from '../../shared/duration.js';
import { continueAfterSignIn } from '../continue-after-sign-in.js';
import { readCurrentSession } from '../current-session.js';
import { renderLinkProblem, type LinkProblem } from '../link-problem-page.js';
import { renderPage } from '../render.js';
import { prepareTokenPage } from '../security-headers.js';
import { ensureBrowserCookie, readBrowserCookie, setSessionCookie } from '../session-cookie.js';

type FormBody = Record<string, unknown> | undefined;

const rejectionPages: Record<MagicLinkRejection | 'malformed', LinkProblem> = {
  expired: { status: 410, heading: 'This sign-in link has expired', explanation: 'For your safety, sign-in links work only for a short time. Ask for a new one and use it soon after it arrives.' },
  used: { status: 410, heading: 'This sign-in link has already been used', explanation: 'Each sign-in link works once. If that was not you, nobody can use it again. Ask for a new link to sign in.' },
  superseded: { status: 410, heading: 'This sign-in link no longer works', explanation: 'You signed in with a newer link, which ended the earlier ones. Ask for a new link to sign in again.' },
  client_disabled: { status: 410, heading: 'This sign-in link no longer works', explanation: 'This link cannot be used any more. Ask for a new link, or contact the people who run this portal.' },
  email_changed: { status: 410, heading: 'This sign-in link no longer works', explanation: 'The email address of this account changed after the link was sent. Ask for a new link at the new address.' },
  unknown: { status: 404, heading: 'This sign-in link is not valid', explanation: 'The link may be incomplete: some email programs break long links. Ask for a new one.' },
  other_workspace: { status: 404, heading: 'This sign-in link is not valid', explanation: 'The link may be incomplete: some email programs break long links. Ask for a new one.' },
  malformed: { status: 404, heading: 'This sign-in link is not valid', explanation: 'The link may be incomplete: some email programs break long links. Ask for a new one.' },
};

/** `/magic-login` and the link in the email. */
export function registerMagicLoginRoutes(app: FastifyInstance, context: PorticoContext): void {
  app.get('/magic-login', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    return renderPage(request, reply, 'magic-login', { title: 'Sign in', next: parseNextPath(query.next), passwordDoor: true });
  });

  app.post('/magic-login', { config: { door: 'magic-login' } }, async (request, reply) => {
    const body = request.body as FormBody;
    const next = parseNextPath(body?.next);
    const browserToken = ensureBrowserCookie(request, reply);
    const result = await requestMagicLink(context, request.workspace, { email: body?.email, next, browserBindingToken: browserToken, ip: request.ip });
    if (!result.ok) {
      const typed = typeof body?.email === 'string' ? body.email.slice(0, 254) : '';
      return renderPage(request, reply, 'magic-login', { title: 'Sign in', next, email: typed, formError: result.formError, passwordDoor: true }, 400);
    }
    return renderPage(request, reply, 'magic-login-sent', {
      title: 'Check your email',
      email: result.email,
      next,
      validFor: describeDuration(request.workspace.magic_link_ttl_ms),
    });
  });

  // GET and HEAD consume nothing: mail scanners and link previews open links before people do.
  app.get('/magic-login/verify', async (request, reply) => {
    prepareTokenPage(reply);
    const token = (request.query as Record<string, unknown>).token;
    if (!looksLikeSecretToken(token)) return renderRejection(request, reply, 'malformed');
    const link = await inspectMagicLinkToken(context.db, context.clock.now(), request.workspace.id, token);
    if (!link.ok) return renderRejection(request, reply, link.reason);
    const browserToken = readBrowserCookie(request);
    // Only the browser that asked for the link signs in without a click; any other browser is
    // shown whose account it is, so an attacker's own link cannot sign a victim in unawares.
    const sameBrowser =
      browserToken !== undefined && link.browserBindingHash !== null && constantTimeEqual(hashSecretToken(browserToken), link.browserBindingHash);
    return renderPage(request, reply, 'magic-link-confirm', { title: 'Sign in', token, email: link.clientEmail, sameBrowser });
  });

  app.post('/magic-login/verify', { config: { door: 'magic-link-redemption' } }, async (request, reply) => {
    prepareTokenPage(reply);
    const token = (request.body as FormBody)?.token;
    if (!looksLikeSecretToken(token)) return renderRejection(request, reply, 'malformed');
    const previous = await readCurrentSession(context, request);
    const result = await redeemMagicLink(context, request.workspace, { token, ip: request.ip, userAgent: request.headers['user-agent'] ?? '' });
    if (!result.ok) return renderRejection(request, reply, result.reason);
    // The session this browser had before is ended: a sign-in never upgrades an existing id.
    if (previous) await endClientSession(context, previous.clientId, previous.idHash);
    setSessionCookie(reply, request.workspace, result.session.token, result.session.expiresAt, context.clock.now());
    return continueAfterSignIn(request, reply, result.nextPath);
  });
}

function renderRejection(request: FastifyRequest, reply: FastifyReply, reason: MagicLinkRejection | 'malformed') {
  return renderLinkProblem(request, reply, rejectionPages[reason], { href: '/magic-login', label: 'Email me a new link' });
}
