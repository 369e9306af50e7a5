import type { PorticoContext } from '../context.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { startSession, type StartedSession } from '../sessions/sessions.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { consumeMagicLinkToken, type MagicLinkRejection } from './magic-links.js';

export type MagicLinkRedemption =
  | { ok: true; session: StartedSession; nextPath: string | null }
  | { ok: false; reason: MagicLinkRejection };

/** Signs a client in with a link: the link is used and the session started in one transaction. */
export async function redeemMagicLink(
  context: PorticoContext,
  workspace: Workspace,
  input: { token: string; ip: string; userAgent: string },
): Promise<MagicLinkRedemption> {
  const now = context.clock.now();
  const result = await context.db.transaction().execute(async (trx) => {
    const consumed = await consumeMagicLinkToken(trx, now, workspace.id, input.token);
    if (!consumed.ok) return consumed;
    const session = await startSession(trx, context.clock, context.config.session, {
      workspaceId: workspace.id,
      clientId: consumed.clientId,
      method: 'magic_link',
      userAgent: input.userAgent,
      ip: input.ip,
    });
    await recordAuditEvents(trx, [
      { workspaceId: workspace.id, at: now, type: 'magic_link.used', email: consumed.clientEmail, ip: input.ip },
      { workspaceId: workspace.id, at: now, type: 'session.started', email: consumed.clientEmail, ip: input.ip, detail: { method: 'magic_link' } },
    ]);
    return { ok: true as const, session, nextPath: consumed.nextPath };
  });
  if (!result.ok) {
    await recordAuditEvents(context.db, [
      { workspaceId: workspace.id, at: now, type: 'magic_link.rejected', email: result.clientEmail, ip: input.ip, detail: { reason: result.reason } },
    ]);
    return { ok: false, reason: result.reason };
  }
  return result;
}
