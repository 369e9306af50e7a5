import type { Kysely } from 'kysely';
import { addClient, findClientByNormalizedEmail, type Client } from '../clients/clients.js';
import { parseEmailAddress } from '../clients/email.js';
import type { PorticoContext } from '../context.js';
import { AppError } from '../errors.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { decideEmailSend, workspaceLimits } from '../rate-limits/limits.js';
import { inTransaction } from '../storage/in-transaction.js';
import { mailLocaleFor } from '../mail-requests/mail-language.js';
import { enqueueMailRequest, type MintedMail } from '../mail-requests/mail-request.js';
import type { Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { buildMagicLinkUrl, issueMagicLinkToken } from './magic-links.js';

/**
 * An invitation is a sign-in link that lasts longer than the everyday ones (people do not read a
 * welcome mail within minutes), has its own page ("Accept your invitation") and lands on
 * `/welcome`, which offers to set a password. It is bound to no browser, so it is never used
 * without a button press.
 */
export const invitationTtlMs = 7 * 24 * 3600_000;

export interface Invitation {
  client: Client;
  clientAdded: boolean;
  expiresAt: number;
}

/**
 * Adds the client when needed and queues a welcome mail whose link signs them in, all or nothing.
 * The outbox holds the request only; the worker mints the link as it sends the mail (issue 13
 * item 7), valid for `invitationTtlMs` from now. With `addressLimits` (the admin API, which
 * scripts drive) the address's email limits apply as at the doors, and a mail they hold back is
 * CLIENT_EMAIL_LIMITED with nothing changed; the CLI, run by the operator, is not limited.
 */
export async function inviteClient(context: PorticoContext, workspace: Workspace, input: { email: string; name?: string }, options: { addressLimits?: boolean } = {}): Promise<Invitation> {
  const email = parseEmailAddress(input.email);
  if (!email.ok) throw new AppError('CLIENT_EMAIL_INVALID', { message: `"${input.email}" is not a valid email address: ${email.reason}` });
  const now = context.clock.now();
  const expiresAt = now + invitationTtlMs;
  const invitation = await inTransaction(context.db, async (trx) => {
    const existing = await findClientByNormalizedEmail(trx, workspace.id, email.normalized);
    if (existing?.disabled_at) throw new AppError('CLIENT_DISABLED', { message: `${existing.email} is disabled in the workspace "${workspace.slug}", so they cannot be invited.` });
    if (options.addressLimits && (await decideEmailSend(trx, now, workspaceLimits(context.config.limits, workspace), workspace.id, email.normalized)).outcome !== 'allowed') {
      throw new AppError('CLIENT_EMAIL_LIMITED');
    }
    const client = existing ?? (await addClient(trx, context.clock, workspace, { email: email.email, name: input.name }));
    await enqueueMailRequest(trx, now, { workspaceId: workspace.id, request: { template: 'invitation-request', payload: { clientId: client.id } }, recipient: client.email, giveUpAt: expiresAt });
    await recordAuditEvents(trx, [{ workspaceId: workspace.id, at: now, type: 'client.invited', email: client.email, detail: { clientAdded: !existing } }]);
    return { client, clientAdded: !existing, expiresAt };
  });
  context.metrics.mailsQueued.labels('invitation').inc();
  context.notifyMailQueued();
  return invitation;
}

/**
 * In the outbox worker, at each attempt to send: mints a fresh invitation link and stores its hash;
 * the token goes only into the mail built in memory.
 */
export async function mintInvitationMail(db: Kysely<Database>, invitedAt: number, workspace: Workspace, client: Client): Promise<MintedMail> {
  // Valid for the week the invitation promised, counted from the invitation, not from this attempt.
  const link = await issueMagicLinkToken(db, invitedAt, { workspaceId: workspace.id, clientId: client.id, ttlMs: invitationTtlMs, nextPath: '/welcome', browserBindingHash: null, purpose: 'invitation' });
  return {
    template: 'invitation',
    payload: {
      link: buildMagicLinkUrl(workspace.url, link.token),
      ttlMs: invitationTtlMs,
      workspaceName: workspace.name,
      clientName: client.name,
      from: workspace.mail_from,
      // No browser asked: the client's last language, else the workspace's.
      locale: mailLocaleFor(null, client, workspace),
    },
  };
}
