import type { Kysely } from 'kysely';
import { findClientByNormalizedEmail } from '../clients/clients.js';
import { parseEmailAddress } from '../clients/email.js';
import type { PorticoContext } from '../context.js';
import { hashSecretToken } from '../crypto/tokens.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { enqueueMail, eraseMail, type OutboxMail } from '../mail/outbox.js';
import { decideEmailSend, workspaceLimits } from '../rate-limits/limits.js';
import type { Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { buildMagicLinkUrl, issueMagicLinkToken } from './magic-links.js';
import { parseNextPath } from './next-path.js';

export type MagicLinkRequestResult = { ok: true; email: string } | { ok: false; formError: string };

interface MagicLinkRequestPayload {
  normalizedEmail: string;
  typedEmail: string;
  nextPath: string | null;
  browserBindingHash: string;
  ip: string;
}

/**
 * Handles "email me a sign-in link". The request only queues the work: known and unknown emails
 * take the very same path here (a rate-limit upsert and one insert), so neither the answer nor its
 * timing tells whether the address is a client (OWASP ASVS 6.3). The outbox worker looks the
 * client up, and only a known, enabled client gets a link.
 */
export async function requestMagicLink(
  context: PorticoContext,
  workspace: Workspace,
  input: { email: unknown; next: unknown; browserBindingToken: string; ip: string },
): Promise<MagicLinkRequestResult> {
  const email = parseEmailAddress(input.email);
  if (!email.ok) return { ok: false, formError: email.reason };
  const now = context.clock.now();
  // The per-address and per-workspace limits apply to unknown addresses too, and never show in the answer.
  const decision = await decideEmailSend(context.db, now, workspaceLimits(context.config.limits, workspace), workspace.id, email.normalized);
  if (decision !== 'allowed') {
    await recordAuditEvents(context.db, [
      { workspaceId: workspace.id, at: now, type: 'magic_link.requested', email: email.email, ip: input.ip, detail: { outcome: decision } },
    ]);
    return { ok: true, email: email.email };
  }
  const payload: MagicLinkRequestPayload = {
    normalizedEmail: email.normalized,
    typedEmail: email.email,
    nextPath: parseNextPath(input.next),
    browserBindingHash: hashSecretToken(input.browserBindingToken),
    ip: input.ip,
  };
  await enqueueMail(context.db, now, {
    workspaceId: workspace.id,
    template: 'magic-link-request',
    recipient: email.normalized,
    payload: payload as unknown as Record<string, unknown>,
    giveUpAt: now + workspace.magic_link_ttl_ms,
  });
  context.notifyMailQueued();
  return { ok: true, email: email.email };
}

/**
 * Turns a queued request into a sign-in mail, in the worker: for a known, enabled client the link
 * is stored and the row becomes its mail in one transaction (a link never exists without its mail);
 * any other request is erased. Either way the outcome goes to the audit log.
 */
export async function resolveMagicLinkRequest(db: Kysely<Database>, request: OutboxMail): Promise<OutboxMail | null> {
  const payload = JSON.parse(request.payload) as MagicLinkRequestPayload;
  return db.transaction().execute(async (trx) => {
    const workspace = await trx.selectFrom('workspaces').selectAll().where('id', '=', request.workspace_id).executeTakeFirst();
    const client = workspace ? await findClientByNormalizedEmail(trx, workspace.id, payload.normalizedEmail) : null;
    if (!workspace || !client || client.disabled_at !== null) {
      await eraseMail(trx, request.id);
      if (workspace) {
        await recordAuditEvents(trx, [
          { workspaceId: workspace.id, at: request.created_at, type: 'magic_link.requested', email: payload.typedEmail, ip: payload.ip, detail: { outcome: client ? 'client_disabled' : 'unknown_email' } },
        ]);
      }
      return null;
    }
    // The link's lifetime counts from the request, not from when the worker got to it.
    const link = await issueMagicLinkToken(trx, request.created_at, {
      workspaceId: workspace.id,
      clientId: client.id,
      ttlMs: workspace.magic_link_ttl_ms,
      nextPath: payload.nextPath,
      browserBindingHash: payload.browserBindingHash,
    });
    const mailPayload = JSON.stringify({
      link: buildMagicLinkUrl(workspace.url, link.token),
      ttlMs: workspace.magic_link_ttl_ms,
      workspaceName: workspace.name,
      clientName: client.name,
      from: workspace.mail_from,
    });
    // The stored address, never the typed one: mail goes only to the client on record.
    const mail = await trx
      .updateTable('outbox')
      .set({ template: 'magic-link', recipient: client.email, payload: mailPayload, give_up_at: link.expiresAt })
      .where('id', '=', request.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAuditEvents(trx, [
      { workspaceId: workspace.id, at: request.created_at, type: 'magic_link.requested', email: client.email, ip: payload.ip, detail: { outcome: 'link_queued' } },
    ]);
    return mail;
  });
}
