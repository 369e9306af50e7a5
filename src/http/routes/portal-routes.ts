import Bowser from 'bowser';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PorticoContext } from '../../context.js';
import { recordAuditEvents } from '../../events/audit-events.js';
import { parseNextPath } from '../../magic-links/next-path.js';
import { endAllClientSessions, endClientSession, listClientSessions, type ValidSession } from '../../sessions/sessions.js';
import { readCurrentSession } from '../current-session.js';
import { renderPage } from '../render.js';
import { clearSessionCookie } from '../session-cookie.js';

const signInMethodLabels: Record<string, string> = { magic_link: 'Email link', password: 'Password' };

/** The signed-in side: portal home, account and sessions, sign-out, `/api/me`, and `/login`. */
export function registerPortalRoutes(app: FastifyInstance, context: PorticoContext): void {
  app.get('/', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect('/login', 303);
    return renderPage(request, reply, 'home', { title: 'Home', email: session.clientEmail, clientName: session.clientName });
  });

  app.get('/login', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    return renderPage(request, reply, 'login', { title: 'Sign in', next: parseNextPath(query.next), signedOut: query.signed_out === '1' });
  });

  app.get('/account', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect('/login?next=%2Faccount', 303);
    const query = request.query as Record<string, unknown>;
    const sessions = await listClientSessions(context.db, context.clock, context.config.session, session.clientId);
    const now = context.clock.now();
    return renderPage(request, reply, 'account', {
      title: 'Account and security',
      wide: true,
      email: session.clientEmail,
      clientName: session.clientName,
      notice: query.ended === '1' ? 'That browser is signed out.' : null,
      sessions: sessions.map((summary) => ({
        id: summary.idHash,
        current: summary.idHash === session.idHash,
        browser: describeBrowser(summary.userAgent),
        method: signInMethodLabels[summary.signInMethod] ?? summary.signInMethod,
        lastSeen: describeLastSeen(now, summary.lastSeenAt),
        lastSeenIso: new Date(summary.lastSeenAt).toISOString(),
      })),
    });
  });

  app.post('/account/sessions/end', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect('/login', 303);
    const target = (request.body as Record<string, unknown> | undefined)?.session;
    if (typeof target === 'string' && (await endClientSession(context.db, session.clientId, target))) {
      await recordSessionEnded(context, request, session, target === session.idHash ? 'signed_out' : 'signed_out_remotely');
    }
    if (target === session.idHash) return signOutHere(request, reply);
    return reply.redirect('/account?ended=1', 303);
  });

  app.post('/account/sessions/end-all', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.redirect('/login', 303);
    const ended = await endAllClientSessions(context.db, session.clientId);
    await recordSessionEnded(context, request, session, 'signed_out_everywhere', ended);
    return signOutHere(request, reply);
  });

  app.post('/logout', async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (session) {
      await endClientSession(context.db, session.clientId, session.idHash);
      await recordSessionEnded(context, request, session, 'signed_out');
    }
    return signOutHere(request, reply);
  });

  app.get('/api/me', { config: { api: true } }, async (request, reply) => {
    const session = await readCurrentSession(context, request);
    if (!session) return reply.code(401).send({ error: 'not_signed_in', message: 'You are not signed in.' });
    return {
      client: { email: session.clientEmail, name: session.clientName },
      workspace: { slug: request.workspace.slug, name: request.workspace.name },
    };
  });
}

function signOutHere(request: FastifyRequest, reply: FastifyReply) {
  clearSessionCookie(reply, request.workspace);
  return reply.redirect('/login?signed_out=1', 303);
}

async function recordSessionEnded(context: PorticoContext, request: FastifyRequest, session: ValidSession, reason: string, count = 1) {
  await recordAuditEvents(context.db, [
    { workspaceId: request.workspace.id, at: context.clock.now(), type: 'session.ended', email: session.clientEmail, ip: request.ip, detail: { reason, sessions: count } },
  ]);
}

function describeBrowser(userAgent: string): string {
  if (!userAgent) return 'Unknown browser';
  const parsed = Bowser.parse(userAgent);
  const browser = [parsed.browser.name, parsed.browser.version?.split('.')[0]].filter(Boolean).join(' ');
  const system = parsed.os.name;
  if (!browser) return system ? `Unknown browser on ${system}` : 'Unknown browser';
  return system ? `${browser} on ${system}` : browser;
}

function describeLastSeen(now: number, lastSeenAt: number): string {
  const minutes = Math.floor((now - lastSeenAt) / 60_000);
  if (minutes < 2) return 'Just now';
  if (minutes < 60) return `${minutes} minutes ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return hours === 1 ? '1 hour ago' : `${hours} hours ago`;
  const days = Math.floor(hours / 24);
  return days === 1 ? 'Yesterday' : `${days} days ago`;
}
