import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findClientById } from '../../clients/clients.js';
import type { PorticoContext } from '../../context.js';
import { looksLikeSecretToken } from '../../crypto/tokens.js';
import { AppError } from '../../errors.js';
import { parseNextPath } from '../../magic-links/next-path.js';
import { inspectPasswordResetToken, passwordResetTtlMs, requestPasswordReset, resetPasswordWithToken } from '../../passwords/password-reset.js';
import { signInWithPassword } from '../../passwords/password-sign-in.js';
import { setClientPassword } from '../../passwords/set-password.js';
import { defaultDoorPath } from '../../workspaces/workspaces.js';
import { endClientSession } from '../../sessions/sessions.js';
import { continueAfterSignIn } from '../continue-after-sign-in.js';
import { emailFieldErrors, readCarriedEmail, readTypedEmail, signedInPanelFor, waitFor, waitUntil } from '../door-pages.js';
import { readCurrentSession } from '../current-session.js';
import { sendAppError } from '../error-pages.js';
import { renderLinkProblem, type LinkProblem } from '../link-problem-page.js';
import { describePasswordProblem } from '../password-problem-text.js';
import { renderPage } from '../render.js';
import { prepareTokenPage } from '../security-headers.js';
import { setSessionCookie } from '../session-cookie.js';
import { renderAccountPage } from './account-page.js';

type FormBody = Record<string, unknown> | undefined;

const invalidCredentials = 'login.error.invalidCredentials';

const resetLinkProblems: Record<'unknown' | 'expired' | 'used', LinkProblem> = {
  unknown: { status: 404, heading: 'linkProblem.resetLink.invalid.heading', explanation: 'linkProblem.resetLink.invalid.explanation' },
  expired: { status: 410, heading: 'linkProblem.resetLink.expired.heading', explanation: 'linkProblem.resetLink.expired.explanation' },
  used: { status: 410, heading: 'linkProblem.resetLink.used.heading', explanation: 'linkProblem.resetLink.used.explanation' },
};

/** The password door: `/login`, `/forgot-password`, `/reset-password`, setting a password on the account. */
export function registerPasswordRoutes(app: FastifyInstance, context: PorticoContext): void {
  app.get('/login', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const notice = query.signed_out === '1' ? 'login.notice.signedOut' : query.password_reset === '1' ? 'login.notice.passwordReset' : null;
    const next = parseNextPath(query.next);
    const signedIn = await signedInPanelFor(context, request, '/login', next);
    return renderPage(request, reply, 'login', { titleKey: 'login.title', next, notice, email: readCarriedEmail(query.email), signedIn });
  });

  app.post('/login', { config: { door: 'login' } }, async (request, reply) => {
    const body = request.body as FormBody;
    const next = parseNextPath(body?.next);
    const typedEmail = readTypedEmail(body);
    const previous = await readCurrentSession(context, request);
    const result = await signInWithPassword(context, request.workspace, {
      email: body?.email,
      password: body?.password,
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? '',
      locale: request.i18n.locale,
    });
    if (!result.ok) {
      if (result.reason === 'throttled') {
        const wait = waitFor(request.i18n, result.retryAfterMs);
        reply.header('retry-after', String(wait.seconds));
        return renderPage(request, reply, 'login', { titleKey: 'login.title', next, email: typedEmail, formError: 'login.error.throttled', wait }, 429);
      }
      // The same status and body for every failure: no account enumeration (OWASP ASVS 6.3).
      return renderPage(request, reply, 'login', { titleKey: 'login.title', next, email: typedEmail, formError: invalidCredentials }, 401);
    }
    if (previous) await endClientSession(context, previous.clientId, previous.idHash);
    setSessionCookie(reply, request.workspace, result.session.token, result.session.expiresAt, context.clock.now());
    return continueAfterSignIn(request, reply, next);
  });

  app.get('/forgot-password', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    return renderPage(request, reply, 'forgot-password', { titleKey: 'forgotPassword.title', email: readCarriedEmail(query.email) });
  });

  app.post('/forgot-password', { config: { door: 'forgot-password' } }, async (request, reply) => {
    const body = request.body as FormBody;
    const result = await requestPasswordReset(context, request.workspace, { email: body?.email, ip: request.ip, locale: request.i18n.locale });
    if (!result.ok) {
      return renderPage(request, reply, 'forgot-password', { titleKey: 'forgotPassword.title', email: readTypedEmail(body), formError: emailFieldErrors[result.problem] }, 400);
    }
    return renderPage(request, reply, 'forgot-password-sent', {
      titleKey: 'common.checkEmail',
      email: result.email,
      validFor: request.i18n.duration(passwordResetTtlMs),
      alreadySent: result.alreadySent,
      wait: waitUntil(request.i18n, context.clock.now(), result.nextRequestAt),
      differentAddressHref: '/forgot-password',
    });
  });

  // GET consumes nothing: scanners open links before people do.
  app.get('/reset-password', async (request, reply) => {
    prepareTokenPage(reply);
    const token = (request.query as Record<string, unknown>).token;
    if (!looksLikeSecretToken(token)) return renderResetLinkProblem(request, reply, 'unknown');
    const link = await inspectPasswordResetToken(context.db, context.clock.now(), request.workspace.id, token);
    if (!link.ok) return renderResetLinkProblem(request, reply, link.reason);
    return renderPage(request, reply, 'reset-password', { titleKey: 'resetPassword.title', token, email: link.clientEmail });
  });

  app.post('/reset-password', { config: { door: 'reset-password' } }, async (request, reply) => {
    prepareTokenPage(reply);
    const body = request.body as FormBody;
    const token = body?.token;
    if (!looksLikeSecretToken(token)) return renderResetLinkProblem(request, reply, 'unknown');
    const result = await resetPasswordWithToken(context, request.workspace, { token, password: body?.password, ip: request.ip, locale: request.i18n.locale });
    if (result.ok) {
      // Signed out everywhere, this browser included: the person signs in with the new password,
      // which shows it was typed (and saved) as meant. See docs/passwords.md.
      return reply.redirect(`/login?password_reset=1&email=${encodeURIComponent(result.clientEmail)}`, 303);
    }
    if ('linkProblem' in result) return renderResetLinkProblem(request, reply, result.linkProblem);
    const link = await inspectPasswordResetToken(context.db, context.clock.now(), request.workspace.id, token);
    const formError = await describePasswordProblem(request.i18n, result.problem);
    return renderPage(request, reply, 'reset-password', { titleKey: 'resetPassword.title', token, email: link.ok ? link.clientEmail : '', formError }, 400);
  });

  app.get('/welcome', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect(defaultDoorPath(request.workspace, '/welcome'), 303);
    const client = await findClientById(context.db, request.workspace.id, session.clientId);
    const query = request.query as Record<string, unknown>;
    const next = parseNextPath(query.next) ?? '/';
    const hasPassword = client?.password_hash != null;
    // The end of an invitation that set a password: say it worked, and that they are signed in (issue 17 item 2).
    if (query.password === 'set' && hasPassword) {
      return renderPage(request, reply, 'welcome-password-set', { titleKey: 'welcomePasswordSet.title', email: session.clientEmail, next });
    }
    return renderPage(request, reply, 'welcome', { titleKey: 'welcome.title', email: session.clientEmail, clientName: session.clientName, hasPassword, next });
  });

  // A door like /login: the per-IP limit applies, as the per-account throttle does (issue 13 item 9).
  app.post('/account/password', { config: { door: 'account-password' } }, async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect('/login', 303);
    const client = await findClientById(context.db, request.workspace.id, session.clientId);
    if (!client) return sendAppError(request, reply, new AppError('NOT_SIGNED_IN'));
    const body = request.body as FormBody;
    const next = parseNextPath(body?.next);
    const result = await setClientPassword(context, request.workspace, client, {
      currentPassword: body?.current_password,
      newPassword: body?.new_password,
      keepSessionIdHash: session.idHash,
      ip: request.ip,
      locale: request.i18n.locale,
    });
    if (result.ok) {
      // Only the welcome page's form sends `next`: it ends on a confirmation, then goes on to `next`.
      if (next) return reply.redirect(`/welcome?password=set${next === '/' ? '' : `&next=${encodeURIComponent(next)}`}`, 303);
      return reply.redirect(`/account?password=${result.changed ? 'changed' : 'set'}`, 303);
    }
    const passwordError = { field: result.field, message: await describePasswordProblem(request.i18n, result.problem) };
    let status = 400;
    if (result.retryAfterMs !== undefined) {
      status = 429;
      reply.header('retry-after', String(Math.ceil(result.retryAfterMs / 1000)));
    }
    if (next) {
      return renderPage(request, reply, 'welcome', { titleKey: 'welcome.title', email: session.clientEmail, clientName: session.clientName, hasPassword: false, next, passwordError }, status);
    }
    return renderAccountPage(context, request, reply, session, { passwordError }, status);
  });
}

function renderResetLinkProblem(request: FastifyRequest, reply: FastifyReply, problem: keyof typeof resetLinkProblems) {
  return renderLinkProblem(request, reply, resetLinkProblems[problem], { href: '/forgot-password', label: 'linkProblem.action.newResetLink' });
}
