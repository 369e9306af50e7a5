import type Bowser from 'bowser';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { findClientById } from '../../clients/clients.js';
import type { PorticoContext } from '../../context.js';
import { listClientSessions, type ValidSession } from '../../sessions/sessions.js';
import { renderPage } from '../render.js';

/** How each session began (sessions.ts SignInMethod), in words. */
const signInMethodLabels: Record<string, string> = { magic_link: 'Email link', code: 'Emailed code', password: 'Password', invitation: 'Invitation' };

export interface AccountPageExtras {
  notice?: string | null;
  passwordError?: { field: string; message: string } | null;
}

/**
 * `/account`: who is signed in, the password form, and every live session (this browser first)
 * with how and when it signed in and its sign-out button.
 */
export async function renderAccountPage(
  context: PorticoContext,
  request: FastifyRequest,
  reply: FastifyReply,
  session: ValidSession,
  extras: AccountPageExtras = {},
  status = 200,
) {
  const [client, sessions, { default: bowser }] = await Promise.all([
    findClientById(context.db, request.workspace.id, session.clientId),
    listClientSessions(context.db, context.clock, context.config.session, session.clientId),
    // Loaded on the first account page, not at start-up: no other page names browsers.
    import('bowser'),
  ]);
  const now = context.clock.now();
  // This browser first, then the others by when they were last seen (issue 17 item 2).
  const ordered = [...sessions.filter((summary) => summary.idHash === session.idHash), ...sessions.filter((summary) => summary.idHash !== session.idHash)];
  return renderPage(request, reply, 'account', {
    title: 'Account and security',
    wide: true,
    email: session.clientEmail,
    clientName: session.clientName,
    hasPassword: client?.password_hash != null,
    notice: extras.notice ?? null,
    passwordError: extras.passwordError ?? null,
    sessions: ordered.map((summary) => ({
      id: summary.idHash,
      current: summary.idHash === session.idHash,
      browser: describeBrowser(bowser, summary.userAgent),
      method: signInMethodLabels[summary.signInMethod] ?? 'Unknown',
      signedIn: describeTimeAgo(now, summary.createdAt),
      signedInIso: new Date(summary.createdAt).toISOString(),
      lastSeen: describeTimeAgo(now, summary.lastSeenAt),
      lastSeenIso: new Date(summary.lastSeenAt).toISOString(),
    })),
    otherSessions: ordered.length > 1,
  }, status);
}

function describeBrowser(bowser: typeof Bowser, userAgent: string): string {
  if (!userAgent) return 'Unknown browser';
  const parsed = bowser.parse(userAgent);
  const browser = [parsed.browser.name, parsed.browser.version?.split('.')[0]].filter(Boolean).join(' ');
  // A phone or tablet is named when bowser knows it ("iPhone", "Pixel 7"), so two devices of one system differ.
  const device = parsed.platform.type === 'mobile' || parsed.platform.type === 'tablet' ? parsed.platform.model : undefined;
  const system = device && parsed.os.name ? `${device} (${parsed.os.name})` : (device ?? parsed.os.name);
  if (!browser) return system ? `Unknown browser on ${system}` : 'Unknown browser';
  return system ? `${browser} on ${system}` : browser;
}

function describeTimeAgo(now: number, at: number): string {
  const minutes = Math.floor((now - at) / 60_000);
  if (minutes < 2) return 'Just now';
  if (minutes < 60) return `${minutes} minutes ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return hours === 1 ? '1 hour ago' : `${hours} hours ago`;
  const days = Math.floor(hours / 24);
  return days === 1 ? 'Yesterday' : `${days} days ago`;
}
