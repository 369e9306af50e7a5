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
import { continueAfterSignIn } from '../continue-after-sign-in.js';
import { doorHref, emailFieldErrors, readCarriedEmail, readTypedEmail, signedInPanelFor, waitUntil, type SignedInPanel } from '../door-pages.js';
import { readCurrentSession } from '../current-session.js';
import { renderLinkProblem, type LinkProblem } from '../link-problem-page.js';
import { renderPage } from '../render.js';
import { prepareTokenPage } from '../security-headers.js';
import { ensureBrowserCookie, readBrowserCookie, setSessionCookie } from '../session-cookie.js';

type FormBody = Record<string, unknown> | undefined;

const invalidLink: LinkProblem = { status: 404, heading: 'linkProblem.magicLink.invalid.heading', explanation: 'linkProblem.magicLink.invalid.explanation' };

const rejectionPages: Record<MagicLinkRejection | 'malformed', LinkProblem> = {
  expired: { status: 410, heading: 'linkProblem.magicLink.expired.heading', explanation: 'linkProblem.magicLink.expired.explanation' },
  used: { status: 410, heading: 'linkProblem.magicLink.used.heading', explanation: 'linkProblem.magicLink.used.explanation' },
  superseded: { status: 410, heading: 'linkProblem.magicLink.ended.heading', explanation: 'linkProblem.magicLink.superseded.explanation' },
  client_disabled: { status: 410, heading: 'linkProblem.magicLink.ended.heading', explanation: 'linkProblem.magicLink.clientDisabled.explanation' },
  email_changed: { status: 410, heading: 'linkProblem.magicLink.ended.heading', explanation: 'linkProblem.magicLink.emailChanged.explanation' },
  unknown: invalidLink,
  other_workspace: invalidLink,
  malformed: invalidLink,
};

const codeRejectionPages: Record<SignInCodeRejection, LinkProblem> = {
  used: { status: 410, heading: 'linkProblem.code.used.heading', explanation: 'linkProblem.code.used.explanation' },
  superseded: { status: 410, heading: 'linkProblem.code.ended.heading', explanation: 'linkProblem.code.superseded.explanation' },
  expired: { status: 410, heading: 'linkProblem.code.expired.heading', explanation: 'linkProblem.code.expired.explanation' },
  client_disabled: { status: 410, heading: 'linkProblem.code.ended.heading', explanation: 'linkProblem.code.clientDisabled.explanation' },
  email_changed: { status: 410, heading: 'linkProblem.code.ended.heading', explanation: 'linkProblem.code.emailChanged.explanation' },
  too_many_guesses: { status: 410, heading: 'linkProblem.code.ended.heading', explanation: 'linkProblem.code.tooManyGuesses.explanation' },
};

/** The code field's `maxlength`: the digits with room for spaces and hyphens as typed. */
const maxTypedCodeLength = 40;

const codeFormErrors = {
  malformed: 'codeForm.error.malformed',
  wrong: 'codeForm.error.wrong',
} as const;

// An invitation that cannot be used says so in its own words; unknown and other workspaces' links
// say nothing about what they were.
const invitationRejectionPages: Partial<Record<MagicLinkRejection, LinkProblem>> = {
  expired: { status: 410, heading: 'linkProblem.invitation.expired.heading', explanation: 'linkProblem.invitation.expired.explanation' },
  used: { status: 410, heading: 'linkProblem.invitation.used.heading', explanation: 'linkProblem.invitation.used.explanation' },
  superseded: { status: 410, heading: 'linkProblem.invitation.superseded.heading', explanation: 'linkProblem.invitation.superseded.explanation' },
  client_disabled: rejectionPages.client_disabled,
};

/** `/magic-login` and the link in the email. */
export function registerMagicLoginRoutes(app: FastifyInstance, context: PorticoContext): void {
  app.get('/magic-login', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const next = parseNextPath(query.next);
    const signedIn = await signedInPanelFor(context, request, '/magic-login', next);
    const notice = query.signed_out === '1' ? 'login.notice.signedOut' : null;
    return renderPage(request, reply, 'magic-login', { titleKey: 'magicLogin.title', next, email: readCarriedEmail(query.email), notice, signedIn, passwordDoor: true });
  });

  app.post('/magic-login', { config: { door: 'magic-login' } }, async (request, reply) => {
    const body = request.body as FormBody;
    const next = parseNextPath(body?.next);
    const browserToken = ensureBrowserCookie(request, reply);
    const result = await requestMagicLink(context, request.workspace, { email: body?.email, next, browserBindingToken: browserToken, ip: request.ip, locale: request.i18n.locale });
    if (!result.ok) {
      return renderPage(request, reply, 'magic-login', { titleKey: 'magicLogin.title', next, email: readTypedEmail(body), formError: emailFieldErrors[result.problem], passwordDoor: true }, 400);
    }
    // Within the address's cooldown nothing was sent: the page says so, and when to ask again, in
    // the same words for known and unknown addresses (the cooldown holds for both).
    return renderPage(request, reply, 'magic-login-sent', {
      titleKey: 'magicLoginSent.title',
      email: result.email,
      next,
      validFor: request.i18n.duration(request.workspace.magic_link_ttl_ms),
      alreadySent: result.alreadySent,
      wait: waitUntil(request.i18n, context.clock.now(), result.nextRequestAt),
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
      locale: request.i18n.locale,
    });
    if (result.ok) {
      // The session this browser had before is ended: a sign-in never upgrades an existing id.
      if (previous) await endClientSession(context, previous.clientId, previous.idHash);
      setSessionCookie(reply, request.workspace, result.session.token, result.session.expiresAt, context.clock.now());
      return continueAfterSignIn(request, reply, result.nextPath ?? next);
    }
    if (result.reason === 'malformed' || result.reason === 'wrong') {
      // What was typed stays in the field, to correct a slip rather than type ten digits again.
      const typedCode = typeof body?.code === 'string' ? body.code.slice(0, maxTypedCodeLength) : '';
      return renderPage(request, reply, 'magic-login-code', { titleKey: 'magicLoginCode.title', next, codeError: codeFormErrors[result.reason], typedCode }, 400);
    }
    if (result.reason === 'ip_limited') {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
      reply.header('retry-after', String(seconds));
      return sendAppError(request, reply, new AppError('TOO_MANY_REQUESTS'), { retryAfter: request.i18n.duration(seconds * 1000) });
    }
    return renderLinkProblem(request, reply, codeRejectionPages[result.reason], { href: '/magic-login', label: 'linkProblem.action.newLink' });
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
      return renderPage(request, reply, 'invitation-accept', { titleKey: 'invitationAccept.title', token, email: link.clientEmail, clientName: link.clientName });
    }
    const browserToken = readBrowserCookie(request);
    // Only the browser that asked for the link signs in without a click; any other browser is
    // shown whose account it is, so an attacker's own link cannot sign a victim in unawares.
    const sameBrowser =
      browserToken !== undefined && link.browserBindingHash !== null && constantTimeEqual(hashSecretToken(browserToken), link.browserBindingHash);
    return renderPage(request, reply, 'magic-link-confirm', { titleKey: 'magicLinkConfirm.title', token, email: link.clientEmail, sameBrowser });
  });

  app.post('/magic-login/verify', { config: { door: 'magic-link-redemption' } }, async (request, reply) => {
    prepareTokenPage(reply);
    const token = (request.body as FormBody)?.token;
    if (!looksLikeSecretToken(token)) return renderRejection(request, reply, 'malformed');
    const previous = await readCurrentSession(context, request);
    const result = await redeemMagicLink(context, request.workspace, { token, ip: request.ip, userAgent: request.headers['user-agent'] ?? '', locale: request.i18n.locale });
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
  if (invitationPage) return renderLinkProblem(request, reply, invitationPage, { href: '/magic-login', label: 'linkProblem.action.signInLink' }, signedIn);
  return renderLinkProblem(request, reply, rejectionPages[reason], { href: '/magic-login', label: 'linkProblem.action.newLink' }, signedIn);
}
