import type Bowser from 'bowser';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { findClientById } from '../../clients/clients.js';
import type { PorticoContext } from '../../context.js';
import type { Translator } from '../../i18n/translator.js';
import { listClientSessions, type ValidSession } from '../../sessions/sessions.js';
import { renderPage } from '../render.js';

/** How each session began (sessions.ts SignInMethod), as message keys. */
const signInMethodLabels: Record<string, string> = {
  magic_link: 'account.method.magicLink',
  code: 'account.method.code',
  password: 'account.method.password',
  invitation: 'account.method.invitation',
};

export interface AccountPageExtras {
  /** A message key. */
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
  const i18n = request.i18n;
  // This browser first, then the others by when they were last seen (issue 17 item 2).
  const ordered = [...sessions.filter((summary) => summary.idHash === session.idHash), ...sessions.filter((summary) => summary.idHash !== session.idHash)];
  return renderPage(request, reply, 'account', {
    titleKey: 'account.title',
    wide: true,
    email: session.clientEmail,
    clientName: session.clientName,
    hasPassword: client?.password_hash != null,
    notice: extras.notice ?? null,
    passwordError: extras.passwordError ?? null,
    sessions: ordered.map((summary) => ({
      id: summary.idHash,
      current: summary.idHash === session.idHash,
      browser: describeBrowser(i18n, bowser, summary.userAgent),
      method: i18n.t(signInMethodLabels[summary.signInMethod] ?? 'account.method.unknown'),
      signedIn: describeTimeAgo(i18n, now, summary.createdAt),
      signedInAt: i18n.dateTime(summary.createdAt),
      signedInIso: new Date(summary.createdAt).toISOString(),
      lastSeen: describeTimeAgo(i18n, now, summary.lastSeenAt),
      lastSeenAt: i18n.dateTime(summary.lastSeenAt),
      lastSeenIso: new Date(summary.lastSeenAt).toISOString(),
    })),
    otherSessions: ordered.length > 1,
  }, status);
}

/** "Firefox 133 on Windows", in the page's language; the names of browsers and systems are bowser's, as they are. */
function describeBrowser(i18n: Translator, bowser: typeof Bowser, userAgent: string): string {
  if (!userAgent) return i18n.t('account.browser.unknown');
  const parsed = bowser.parse(userAgent);
  const browser = [parsed.browser.name, parsed.browser.version?.split('.')[0]].filter(Boolean).join(' ');
  // A phone or tablet is named when bowser knows it ("iPhone", "Pixel 7"), so two devices of one system differ.
  const device = parsed.platform.type === 'mobile' || parsed.platform.type === 'tablet' ? parsed.platform.model : undefined;
  const system = device && parsed.os.name ? i18n.t('account.browser.device', { device, system: parsed.os.name }) : (device ?? parsed.os.name);
  if (!browser) return system ? i18n.t('account.browser.unknownOn', { system }) : i18n.t('account.browser.unknown');
  return system ? i18n.t('account.browser.on', { browser, system }) : browser;
}

/** How long ago, in the page's language and plurals: "Just now", "5 minutes ago", "Yesterday". */
function describeTimeAgo(i18n: Translator, now: number, at: number): string {
  const minutes = Math.floor((now - at) / 60_000);
  if (minutes < 2) return i18n.t('account.time.justNow');
  if (minutes < 60) return i18n.t('account.time.minutesAgo', { count: minutes });
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return i18n.t('account.time.hoursAgo', { count: hours });
  const days = Math.floor(hours / 24);
  return days === 1 ? i18n.t('account.time.yesterday') : i18n.t('account.time.daysAgo', { count: days });
}
