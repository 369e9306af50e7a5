import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PorticoContext } from '../../context.js';
import { constantTimeEqual, hashSecretToken, looksLikeSecretToken } from '../../crypto/tokens.js';
import { inspectMagicLinkToken, type MagicLinkPurpose, type MagicLinkRejection } from '../../magic-links/magic-links.js';
import { parseNextPath } from '../../magic-links/next-path.js';
import { redeemMagicLink } from '../../magic-links/redeem-magic-link.js';
import { redeemSignInCode, type SignInCodeRejection } from '../../magic-links/redeem-sign-in-code.js';
import { AppError } from '../../errors.js';
import { sendAppError } from '../error-pages.js';
import { requestMagicLink } from '../../magic-links/request-magic-link.js';
import { endClientSession } from '../../sessions/sessions.js';
import { describeDuration } from '../../shared/duration.js';
import { continueAfterSignIn } from '../continue-after-sign-in.js';
import { doorHref, readCarriedEmail, readTypedEmail, signedInPanelFor, waitUntil, type SignedInPanel } from '../door-pages.js';
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

const codeRejectionPages: Record<SignInCodeRejection, LinkProblem> = {
  used: { status: 410, heading: 'This code has already been used', explanation: 'Each code works once, as does the link beside it. If that was not you, nobody can use it again. Ask for a new link to sign in.' },
  superseded: { status: 410, heading: 'This code no longer works', explanation: 'You signed in with a newer link or code, which ended the earlier ones. Ask for a new link to sign in again.' },
  expired: { status: 410, heading: 'This code has expired', explanation: 'For your safety, codes work only as long as the link beside them. Ask for a new one and use it soon after it arrives.' },
  client_disabled: { status: 410, heading: 'This code no longer works', explanation: 'This code cannot be used any more. Ask for a new link, or contact the people who run this portal.' },
  email_changed: { status: 410, heading: 'This code no longer works', explanation: 'The email address of this account changed after the code was sent. Ask for a new link at the new address.' },
  too_many_guesses: { status: 410, heading: 'This code no longer works', explanation: 'Too many wrong codes were tried, so this one was switched off. The link in the same email still works; or ask for a new one.' },
};

const codeFormErrors = {
  malformed: 'Enter the 10-digit code from the email, such as 12345 67890.',
  wrong: 'That code is not right here. A code works only in the browser where the email was asked for: check it against the latest sign-in email, or open the link in it, which always works.',
} as const;

// An invitation that cannot be used says so in its own words; unknown and other workspaces' links
// say nothing about what they were.
const invitationRejectionPages: Partial<Record<MagicLinkRejection, LinkProblem>> = {
  expired: { status: 410, heading: 'This invitation has expired', explanation: 'Invitations work for a week. Ask for a sign-in link by email instead: it works for your account just the same.' },
  used: { status: 410, heading: 'This invitation has already been used', explanation: 'Each invitation works once. To come back, ask for a sign-in link by email.' },
  superseded: { status: 410, heading: 'This invitation no longer works', explanation: 'You have signed in since it was sent, which ended it. To come back, ask for a sign-in link by email.' },
  client_disabled: rejectionPages.client_disabled,
};

/** `/magic-login` and the link in the email. */
export function registerMagicLoginRoutes(app: FastifyInstance, context: PorticoContext): void {
  app.get('/magic-login', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const next = parseNextPath(query.next);
    const signedIn = await signedInPanelFor(context, request, '/magic-login', next);
    const notice = query.signed_out === '1' ? 'You are signed out.' : null;
    return renderPage(request, reply, 'magic-login', { title: 'Sign in', next, email: readCarriedEmail(query.email), notice, signedIn, passwordDoor: true });
  });

  app.post('/magic-login', { config: { door: 'magic-login' } }, async (request, reply) => {
    const body = request.body as FormBody;
    const next = parseNextPath(body?.next);
    const browserToken = ensureBrowserCookie(request, reply);
    const result = await requestMagicLink(context, request.workspace, { email: body?.email, next, browserBindingToken: browserToken, ip: request.ip });
    if (!result.ok) {
      return renderPage(request, reply, 'magic-login', { title: 'Sign in', next, email: readTypedEmail(body), formError: result.formError, passwordDoor: true }, 400);
    }
    // Within the address's cooldown nothing was sent: the page says so, and when to ask again, in
    // the same words for known and unknown addresses (the cooldown holds for both).
    return renderPage(request, reply, 'magic-login-sent', {
      title: 'Check your email',
      email: result.email,
      next,
      validFor: describeDuration(request.workspace.magic_link_ttl_ms),
      alreadySent: result.alreadySent,
      wait: waitUntil(context.clock.now(), result.nextRequestAt),
      differentAddressHref: doorHref('/magic-login', { next }),
    });
  });

  // The code beside the link, typed in the browser that asked (issue 17 item 1): signs in as the link does.
  app.post('/magic-login/code', { config: { door: 'magic-login-code' } }, async (request, reply): Promise<FastifyReply> => {
    const body = request.body as FormBody;
    const next = parseNextPath(body?.next);
    const browserToken = readBrowserCookie(request);
    const previous = await readCurrentSession(context, request);
    const result = await redeemSignInCode(context, request.workspace, {
      code: body?.code,
      browserBindingToken: looksLikeSecretToken(browserToken) ? browserToken : undefined,
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? '',
    });
    if (result.ok) {
      // The session this browser had before is ended: a sign-in never upgrades an existing id.
      if (previous) await endClientSession(context, previous.clientId, previous.idHash);
      setSessionCookie(reply, request.workspace, result.session.token, result.session.expiresAt, context.clock.now());
      return continueAfterSignIn(request, reply, result.nextPath ?? next);
    }
    if (result.reason === 'malformed' || result.reason === 'wrong') {
      return renderPage(request, reply, 'magic-login-code', { title: 'Enter your code', next, codeError: codeFormErrors[result.reason] }, 400);
    }
    if (result.reason === 'ip_limited') {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
      reply.header('retry-after', String(seconds));
      return sendAppError(request, reply, new AppError('TOO_MANY_REQUESTS'), { retryAfter: describeDuration(seconds * 1000) });
    }
    return renderLinkProblem(request, reply, codeRejectionPages[result.reason], { href: '/magic-login', label: 'Email me a new link' });
  });

  // GET and HEAD consume nothing: mail scanners and link previews open links before people do.
  app.get('/magic-login/verify', async (request, reply) => {
    prepareTokenPage(reply);
    const token = (request.query as Record<string, unknown>).token;
    if (!looksLikeSecretToken(token)) return renderRejection(request, reply, 'malformed');
    const link = await inspectMagicLinkToken(context.db, context.clock.now(), request.workspace.id, token);
    if (!link.ok) return renderRejection(request, reply, link.reason, link.purpose, await signedInPanelFor(context, request, '/magic-login', null));
    // An invitation has its own page: no warning about links from strangers (the workspace's
    // people sent it), but still a button press. It is bound to no browser, so never sent by itself.
    if (link.purpose === 'invitation') {
      return renderPage(request, reply, 'invitation-accept', { title: 'Accept your invitation', token, email: link.clientEmail, clientName: link.clientName });
    }
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
    if (!result.ok) {
      const signedIn = previous ? { email: previous.clientEmail, continueTo: '/', signOutThen: '/magic-login' } : null;
      return renderRejection(request, reply, result.reason, result.purpose, signedIn);
    }
    // The session this browser had before is ended: a sign-in never upgrades an existing id.
    if (previous) await endClientSession(context, previous.clientId, previous.idHash);
    setSessionCookie(reply, request.workspace, result.session.token, result.session.expiresAt, context.clock.now());
    return continueAfterSignIn(request, reply, result.nextPath);
  });
}

/**
 * A link that cannot be used, in an invitation's own words when it was one. A browser already
 * signed in (often with that very link, opened again) is offered the way on instead of a new link
 * (issue 17 item 2).
 */
function renderRejection(
  request: FastifyRequest,
  reply: FastifyReply,
  reason: MagicLinkRejection | 'malformed',
  purpose: MagicLinkPurpose = 'sign_in',
  signedIn: SignedInPanel | null = null,
) {
  const invitationPage = purpose === 'invitation' && reason !== 'malformed' ? invitationRejectionPages[reason] : undefined;
  if (invitationPage) return renderLinkProblem(request, reply, invitationPage, { href: '/magic-login', label: 'Email me a sign-in link' }, signedIn);
  return renderLinkProblem(request, reply, rejectionPages[reason], { href: '/magic-login', label: 'Email me a new link' }, signedIn);
}
