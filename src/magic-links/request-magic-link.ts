import { findClientByNormalizedEmail } from '../clients/clients.js';
import { parseEmailAddress } from '../clients/email.js';
import type { PorticoContext } from '../context.js';
import { hashSecretToken } from '../crypto/tokens.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { enqueueMail } from '../mail/outbox.js';
import { takeEmailSlot } from '../rate-limits/rate-limits.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { buildMagicLinkUrl, issueMagicLinkToken } from './magic-links.js';
import { parseNextPath } from './next-path.js';

export type MagicLinkRequestResult = { ok: true; email: string } | { ok: false; formError: string };

/**
 * Handles "email me a sign-in link". The answer is the same whether or not the email belongs to a
 * client: only a known, enabled client gets a link (OWASP ASVS 6.3, no account enumeration).
 */
export async function requestMagicLink(
  context: PorticoContext,
  workspace: Workspace,
  input: { email: unknown; next: unknown; browserBindingToken: string; ip: string },
): Promise<MagicLinkRequestResult> {
  const email = parseEmailAddress(input.email);
  if (!email.ok) return { ok: false, formError: email.reason };
  const nextPath = parseNextPath(input.next);
  const now = context.clock.now();
  // The per-address limits apply to unknown addresses too, and never show in the answer.
  const { emailCooldownMs, emailsPerHour } = context.config.limits;
  const slot = await takeEmailSlot(context.db, now, { key: `email:${workspace.id}:${email.normalized}`, cooldownMs: emailCooldownMs, perHour: emailsPerHour });
  const client = slot ? await findClientByNormalizedEmail(context.db, workspace.id, email.normalized) : null;

  if (!slot || !client || client.disabled_at !== null) {
    const outcome = !slot ? 'rate_limited' : client ? 'client_disabled' : 'unknown_email';
    await recordAuditEvents(context.db, [
      { workspaceId: workspace.id, at: now, type: 'magic_link.requested', email: email.email, ip: input.ip, detail: { outcome } },
    ]);
    return { ok: true, email: email.email };
  }

  await context.db.transaction().execute(async (trx) => {
    const link = await issueMagicLinkToken(trx, now, {
      workspaceId: workspace.id,
      clientId: client.id,
      ttlMs: workspace.magic_link_ttl_ms,
      nextPath,
      browserBindingHash: hashSecretToken(input.browserBindingToken),
    });
    // Same transaction as the token: a link never exists without its mail, nor a mail without its link.
    await enqueueMail(trx, now, {
      workspaceId: workspace.id,
      template: 'magic-link',
      // The stored address, never the typed one: mail goes only to the client on record.
      recipient: client.email,
      payload: {
        link: buildMagicLinkUrl(workspace.url, link.token),
        ttlMs: workspace.magic_link_ttl_ms,
        workspaceName: workspace.name,
        clientName: client.name,
        from: workspace.mail_from,
      },
      giveUpAt: link.expiresAt,
    });
    await recordAuditEvents(trx, [
      { workspaceId: workspace.id, at: now, type: 'magic_link.requested', email: client.email, ip: input.ip, detail: { outcome: 'link_queued' } },
    ]);
  });
  context.notifyMailQueued();
  return { ok: true, email: email.email };
}
