import type { PorticoContext } from '../context.js';
import { hashSecretToken } from '../crypto/tokens.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { newSession, startSession, storedUserAgent, type StartedSession } from '../sessions/sessions.js';
import { batchesStatements } from '../storage/direct-runner.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { consumeMagicLinkToken, explainUnusableLink, type MagicLinkConsumption, type MagicLinkRejection } from './magic-links.js';
import { redeemInBatch } from './redeem-together.js';

export type MagicLinkRedemption =
  | { ok: true; session: StartedSession; nextPath: string | null }
  | { ok: false; reason: MagicLinkRejection };

type RedemptionInput = { token: string; ip: string; userAgent: string };

/**
 * Signs a client in with a link: the link is used (one conditional UPDATE, so of any number of
 * concurrent redemptions exactly one wins), then the session is started. On PostgreSQL the two are
 * one statement, shared by the redemptions of one turn of the event loop (redeem-together.ts). On
 * SQLite they are two commits, as in any server that consumes then signs in: a crash in the
 * instant between them leaves the link used and no session, and the person asks for a new link; it
 * can never give two sessions or let a link be used twice. One transaction would take SQLite's
 * only connection for the whole redemption and keep it out of the group commit that makes
 * redemptions fast.
 */
export async function redeemMagicLink(context: PorticoContext, workspace: Workspace, input: RedemptionInput): Promise<MagicLinkRedemption> {
  const now = context.clock.now();
  const redeem = batchesStatements(context.db) ? redeemInOneRoundTrip : redeemInSteps;
  const result = await redeem(context, workspace, input, now);
  if (result.ok) return result;
  await recordAuditEvents(context.db, [
    { workspaceId: workspace.id, at: now, type: 'magic_link.rejected', email: result.clientEmail, ip: input.ip, detail: { reason: result.reason } },
  ]);
  return { ok: false, reason: result.reason };
}

type Attempt = Extract<MagicLinkRedemption, { ok: true }> | Extract<MagicLinkConsumption, { ok: false }>;

async function redeemInOneRoundTrip(context: PorticoContext, workspace: Workspace, input: RedemptionInput, now: number): Promise<Attempt> {
  const tokenHash = hashSecretToken(input.token);
  const session = newSession(now, context.config.session);
  const redeemed = await redeemInBatch(context.db, {
    now,
    tokenHash,
    workspaceId: workspace.id,
    sessionIdHash: session.idHash,
    sessionExpiresAt: session.expiresAt,
    userAgent: storedUserAgent(input.userAgent),
    ip: input.ip,
  });
  if (!redeemed) return explainUnusableLink(context.db, now, workspace.id, tokenHash);
  return { ok: true, session, nextPath: redeemed.nextPath };
}

async function redeemInSteps(context: PorticoContext, workspace: Workspace, input: RedemptionInput, now: number): Promise<Attempt> {
  const consumed = await consumeMagicLinkToken(context.db, now, workspace.id, input.token);
  if (!consumed.ok) return consumed;
  // Issued together: on SQLite the session and its events are one group commit.
  const [session] = await Promise.all([
    startSession(context.db, context.clock, context.config.session, {
      workspaceId: workspace.id,
      clientId: consumed.clientId,
      method: 'magic_link',
      userAgent: input.userAgent,
      ip: input.ip,
    }),
    recordAuditEvents(context.db, [
      { workspaceId: workspace.id, at: now, type: 'magic_link.used', email: consumed.clientEmail, ip: input.ip },
      { workspaceId: workspace.id, at: now, type: 'session.started', email: consumed.clientEmail, ip: input.ip, detail: { method: 'magic_link' } },
    ]),
  ]);
  return { ok: true, session, nextPath: consumed.nextPath };
}
