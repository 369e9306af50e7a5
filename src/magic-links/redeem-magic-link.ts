import { rememberClientLocale } from '../clients/client-locale.js';
import type { PorticoContext } from '../context.js';
import { recordAuditEvents } from '../events/audit-events.js';
import type { Locale } from '../i18n/locales.js';
import { startSession, type StartedSession } from '../sessions/sessions.js';
import { queueWebhookEvent } from '../webhooks/webhook-events.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { consumeMagicLinkToken, type MagicLinkConsumption, type MagicLinkPurpose, type MagicLinkRejection } from './magic-links.js';

export type MagicLinkRedemption =
  | { ok: true; session: StartedSession; nextPath: string | null; purpose: MagicLinkPurpose }
  | { ok: false; reason: MagicLinkRejection; purpose: MagicLinkPurpose };

/**
 * Signs a client in with a link: the link is used (one atomic step, so of any number of concurrent
 * redemptions exactly one wins), then the session is started and the sign-in recorded. These are
 * two commits, as in any server that consumes then signs in: a crash in the instant between them
 * leaves the link used and no session, and the person asks for a new link; it can never give two
 * sessions or let a link be used twice. One transaction would hold the connection for the whole
 * redemption, outside the storage's batching of the writes of one turn (a group commit, or one
 * statement for many), which is what makes redemptions fast.
 */
export async function redeemMagicLink(
  context: PorticoContext,
  workspace: Workspace,
  input: { token: string; ip: string; userAgent: string; /** The browser's language, noted as the client's last. */ locale: Locale },
): Promise<MagicLinkRedemption> {
  const now = context.clock.now();
  const consumed = await consumeMagicLinkToken(context.db, now, workspace.id, input.token);
  if (!consumed.ok) {
    context.metrics.linksRefused.labels('sign-in', consumed.reason).inc();
    await recordAuditEvents(context.db, [
      { workspaceId: workspace.id, at: now, type: 'magic_link.rejected', email: consumed.clientEmail, ip: input.ip, detail: { reason: consumed.reason } },
    ]);
    return { ok: false, reason: consumed.reason, purpose: consumed.purpose };
  }
  return signInWithConsumedLink(context, workspace, consumed, { ip: input.ip, userAgent: input.userAgent, locale: input.locale, with: 'link' });
}

/**
 * The sign-in that follows a used link, whether its token or its code was given: the session and
 * the audit events are the same, but for the method they record and `magic_link.used` saying which it was.
 * The browser's language becomes the client's last, written only when it differs from the one the
 * consumption read.
 */
export async function signInWithConsumedLink(
  context: PorticoContext,
  workspace: Workspace,
  consumed: Extract<MagicLinkConsumption, { ok: true }>,
  input: { ip: string; userAgent: string; locale: Locale; with: 'link' | 'code' },
): Promise<Extract<MagicLinkRedemption, { ok: true }>> {
  const now = context.clock.now();
  // The account page tells an invitation's session, a code's and an everyday link's apart.
  const method = consumed.purpose === 'invitation' ? 'invitation' : input.with === 'code' ? 'code' : 'magic_link';
  context.metrics.linksUsed.labels('sign-in').inc();
  // Issued together, so the storage writes them with the other writes of this turn.
  const [session] = await Promise.all([
    startSession(context.db, context.clock, context.config.session, {
      workspaceId: workspace.id,
      clientId: consumed.clientId,
      clientGeneration: consumed.clientGeneration,
      method,
      userAgent: input.userAgent,
      ip: input.ip,
    }),
    recordAuditEvents(context.db, [
      { workspaceId: workspace.id, at: now, type: 'magic_link.used', email: consumed.clientEmail, ip: input.ip, ...(input.with === 'code' ? { detail: { with: 'code' } } : {}) },
      { workspaceId: workspace.id, at: now, type: 'session.started', email: consumed.clientEmail, ip: input.ip, detail: { method } },
    ]),
    queueWebhookEvent(context.db, {
      workspace,
      type: 'client.signed_in',
      at: now,
      client: { id: consumed.clientId, email: consumed.clientEmail },
      data: { door: consumed.purpose === 'invitation' ? 'invitation' : input.with },
    }),
    rememberClientLocale(context.db, { id: consumed.clientId, last_locale: consumed.clientLastLocale }, input.locale),
  ]);
  return { ok: true, session, nextPath: consumed.nextPath, purpose: consumed.purpose };
}
