import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PorticoContext } from '../../context.js';
import { recordAuditEvents } from '../../events/audit-events.js';
import { queueWebhookEvent } from '../../webhooks/webhook-events.js';
import { endAllClientSessions, endClientSession, type ValidSession } from '../../sessions/sessions.js';
import { AppError } from '../../errors.js';
import { defaultDoorPath } from '../../workspaces/workspaces.js';
import { readCurrentSession } from '../current-session.js';
import { pathAfterSignOut } from '../door-pages.js';
import { sendAppError } from '../error-pages.js';
import { renderPage } from '../render.js';
import { clearSessionCookie } from '../session-cookie.js';
import { renderAccountPage } from './account-page.js';

/** The signed-in side: portal home, account and sessions, sign-out, `/api/me`. */
export function registerPortalRoutes(app: FastifyInstance, context: PorticoContext): void {
  app.get('/', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    // The workspace's default door: the email-link page unless it chose the password (issue 17 item 2).
    if (!session) return reply.redirect(defaultDoorPath(request.workspace), 303);
    return renderPage(request, reply, 'home', { titleKey: 'home.title', email: session.clientEmail, clientName: session.clientName });
  });

  app.get('/account', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect(defaultDoorPath(request.workspace, '/account'), 303);
    const query = request.query as Record<string, unknown>;
    const notices: Record<string, string> = {
      ended: 'account.notice.ended',
      others: 'account.notice.others',
      set: 'account.notice.set',
      changed: 'account.notice.changed',
    };
    const notice = query.ended === '1' ? notices.ended : query.ended === 'others' ? notices.others : typeof query.password === 'string' ? (notices[query.password] ?? null) : null;
    return renderAccountPage(context, request, reply, session, { notice });
  });

  app.post('/account/sessions/end', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect('/login', 303);
    const target = (request.body as Record<string, unknown> | undefined)?.session;
    const here = target === session.idHash;
    // Only a session of this client ends (endClientSession matches the client): another client's id does nothing.
    const ending = here ? undefined : { reason: 'signed_out_elsewhere' as const, now: context.clock.now() };
    if (typeof target === 'string' && (await endClientSession(context, session.clientId, target, ending))) {
      await recordSessionEnded(context, request, session, here ? 'signed_out' : 'signed_out_remotely');
    }
    if (here) return signOutHere(request, reply);
    return reply.redirect('/account?ended=1', 303);
  });

  // Every session of the client but this one; this browser stays signed in (issue 17 item 2).
  app.post('/account/sessions/end-others', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect('/login', 303);
    const ended = await endAllClientSessions(context, session.clientId, {
      except: session.idHash,
      ending: { reason: 'signed_out_others', now: context.clock.now() },
    });
    await recordSessionEnded(context, request, session, 'signed_out_others', ended);
    return reply.redirect('/account?ended=others', 303);
  });

  // The confirmation step before "sign out everywhere", which signs this browser out too: a page
  // with a second button, so it works without JavaScript (issue 17 item 2).
  app.get('/account/sign-out-everywhere', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect('/login?next=%2Faccount', 303);
    return renderPage(request, reply, 'sign-out-everywhere', { titleKey: 'signOutEverywhere.title', email: session.clientEmail });
  });

  app.post('/account/sessions/end-all', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect('/login', 303);
    const ended = await endAllClientSessions(context, session.clientId, {
      ending: { reason: 'signed_out_everywhere', now: context.clock.now() },
      endedBy: session.idHash,
    });
    await recordSessionEnded(context, request, session, 'signed_out_everywhere', ended);
    return signOutHere(request, reply);
  });

  app.post('/logout', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (session) {
      await endClientSession(context, session.clientId, session.idHash);
      await recordSessionEnded(context, request, session, 'signed_out');
    }
    return signOutHere(request, reply, pathAfterSignOut((request.body as Record<string, unknown> | undefined)?.then, defaultDoorPath(request.workspace)));
  });

  app.get('/api/me', { config: { api: true } }, async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return sendAppError(request, reply, new AppError('NOT_SIGNED_IN'));
    return {
      client: { email: session.clientEmail, name: session.clientName },
      workspace: { slug: request.workspace.slug, name: request.workspace.name },
    };
  });
}

/** Ends this browser's session cookie and lands on the door named, else the workspace's default door, saying "You are signed out". */
function signOutHere(request: FastifyRequest, reply: FastifyReply, landing = pathAfterSignOut(undefined, defaultDoorPath(request.workspace))) {
  clearSessionCookie(reply, request.workspace);
  return reply.redirect(landing, 303);
}

/**
 * The audit event of sessions a client ended, and its webhook: `client.signed_out` when the client
 * signed this browser out, `session.ended` (with the reason) for any other ending.
 */
async function recordSessionEnded(context: PorticoContext, request: FastifyRequest, session: ValidSession, reason: string, count = 1) {
  const now = context.clock.now();
  const client = { id: session.clientId, email: session.clientEmail };
  await Promise.all([
    recordAuditEvents(context.db, [
      { workspaceId: request.workspace.id, at: now, type: 'session.ended', email: session.clientEmail, ip: request.ip, detail: { reason, sessions: count } },
    ]),
    count > 0
      ? queueWebhookEvent(
          context.db,
          reason === 'signed_out'
            ? { workspace: request.workspace, type: 'client.signed_out', at: now, client }
            : { workspace: request.workspace, type: 'session.ended', at: now, client, data: { reason, sessions: count } },
        )
      : undefined,
  ]);
}
