import type { Kysely } from 'kysely';
import { findClientById, findClientByNormalizedEmail, type Client } from '../clients/clients.js';
import type { PorticoContext } from '../context.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { mintInvitationMail } from '../magic-links/invite-client.js';
import { mintMagicLinkMail } from '../magic-links/request-magic-link.js';
import { mailTemplateOf, markMailCounted, type MailPreparation, type OutboxMail } from '../mail/outbox.js';
import { mintPasswordResetMail } from '../passwords/password-reset.js';
import { workspaceLimits } from '../rate-limits/limits.js';
import { takeWorkspaceEmailSlot } from '../rate-limits/workspace-email-ceiling.js';
import type { Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { readMailRequest, type ClientEmailRequest, type InvitationRequest, type MailRequest, type MintedMail, type MintingKeys } from './mail-request.js';
import { requestedEventOf } from './queue-client-email-request.js';
import { queueWebhookEvent, type WebhookEventInput } from '../webhooks/webhook-events.js';

/**
 * For each kind of request, the function of its own domain that mints the link (stored only as its
 * hash) and writes the mail around it. `requestedAt` is when the request was queued: every link's
 * lifetime counts from it, not from when the worker got to it.
 */
export type LinkMinters = {
  [Template in MailRequest['template']]: (
    db: Kysely<Database>,
    requestedAt: number,
    workspace: Workspace,
    client: Client,
    request: Extract<MailRequest, { template: Template }>['payload'],
    keys: MintingKeys,
  ) => Promise<MintedMail>;
};

/** The minters prepareRequestedMail calls: each kind's own, from magic-links/ and passwords/. */
export const linkMinters: LinkMinters = {
  'magic-link-request': mintMagicLinkMail,
  'password-reset-request': mintPasswordResetMail,
  'invitation-request': mintInvitationMail,
};

/**
 * The outbox worker's hook, at each attempt to send a request row: its mail, with a link minted
 * now; the token lives in memory until SMTP has it (issue 13 item 7), so a retry never sends the
 * link before. A row whose payload is not its kind's throws, which the worker counts as a failed
 * preparation. `minters` is for tests that make minting fail.
 */
export async function prepareRequestedMail(context: PorticoContext, row: OutboxMail, now: number, minters: LinkMinters = linkMinters): Promise<MailPreparation> {
  const request = readMailRequest(row);
  const keys: MintingKeys = { signInCodeKey: context.config.signInCodeKey };
  switch (request.template) {
    case 'magic-link-request':
      return prepareClientEmail(context, row, now, request, (workspace, client) => minters['magic-link-request'](context.db, row.created_at, workspace, client, request.payload, keys));
    case 'password-reset-request':
      return prepareClientEmail(context, row, now, request, (workspace, client) => minters['password-reset-request'](context.db, row.created_at, workspace, client, request.payload, keys));
    case 'invitation-request':
      return prepareInvitation(context, row, request.payload, minters['invitation-request'], keys);
  }
}

/**
 * A client's "email me a link": looks the client up; a known, enabled client gets the mail `mint`
 * writes. Any other request comes to nothing and is erased. The outcome goes to the audit log once
 * per request.
 *
 * The workspace's hourly ceiling is taken here, once per mail, and only for a known client's mail
 * about to be sent: requests for made-up addresses cost it nothing, so they cannot silence a
 * workspace's mail (issue 13 item 9). One upsert takes the slot or refuses it, with no check
 * before. A refusal is the operator's to hear of (a log line and `mail.workspace_limited`), never
 * the asker's: the answer was given long before.
 */
async function prepareClientEmail(
  context: PorticoContext,
  row: OutboxMail,
  now: number,
  request: ClientEmailRequest,
  mint: (workspace: Workspace, client: Client) => Promise<MintedMail>,
): Promise<MailPreparation> {
  const db = context.db;
  const { normalizedEmail, typedEmail, ip } = request.payload;
  const eventType = requestedEventOf[request.template];
  // A workspace changed through the CLI shows here within a second, as it does to requests.
  const workspace = await context.workspaces.findById(row.workspace_id);
  const client = workspace ? await findClientByNormalizedEmail(db, workspace.id, normalizedEmail) : null;
  if (!workspace || !client || client.disabled_at !== null) {
    const outcome = client ? 'client_disabled' : 'unknown_email';
    if (workspace) await recordAuditEvents(db, [{ workspaceId: workspace.id, at: row.created_at, type: eventType, email: typedEmail, ip, detail: { outcome } }]);
    return { mail: null };
  }
  if (row.counted_at === null) {
    const ceiling = workspaceLimits(context.config.limits, workspace).workspaceEmailsPerHour;
    // magic_link.requested goes to the owner's webhooks only for a client on record and enabled,
    // whose request got this far: an address that is not a client, or whose request the
    // per-address limit held back at the door (before anyone looked it up), sends nothing; the
    // client's id and stored address are sent, never the typed address or the asker's IP. Its id
    // is the outbox row's, so a retry of this row after a failure queues it once only.
    const webhook = (outcome: string): WebhookEventInput | null =>
      request.template === 'magic-link-request'
        ? { workspace, type: 'magic_link.requested', at: row.created_at, client: { id: client.id, email: client.email }, data: { outcome }, eventId: `msg_${row.id.replace(/-/g, '')}` }
        : null;
    if (!(await takeWorkspaceEmailSlot(db, now, workspace.id, ceiling))) {
      const limited = webhook('workspace_limited');
      if (limited) await queueWebhookEvent(db, limited);
      await recordAuditEvents(db, [
        { workspaceId: workspace.id, at: row.created_at, type: eventType, email: client.email, ip, detail: { outcome: 'workspace_limited' } },
        { workspaceId: workspace.id, at: now, type: 'mail.workspace_limited', email: client.email, detail: { template: mailTemplateOf(row.template), perHour: ceiling } },
      ]);
      return {
        mail: null,
        warning:
          `workspace ${workspace.slug} has sent its ${ceiling} sign-in and reset emails of this hour: a mail to one of its clients was dropped ` +
          `(mail.workspace_limited in its events). Raise LIMIT_WORKSPACE_EMAILS_PER_HOUR, or portico workspace update ${workspace.slug} --limit-workspace-emails-per-hour N`,
      };
    }
    // Together or not at all, and the row in hand marked the moment they are in: a row the worker
    // holds back in memory after a later failure (the database gone while the link is minted) is
    // tried again without taking a second place or recording a second link_queued.
    const queued = webhook('link_queued');
    if (queued) await queueWebhookEvent(db, queued);
    await markMailCounted(db, row.id, now, { workspaceId: workspace.id, at: row.created_at, type: eventType, email: client.email, ip, detail: { outcome: 'link_queued' } });
    row.counted_at = now;
  }
  const minted = await mint(workspace, client);
  context.metrics.linksIssued.labels(minted.template).inc();
  // The stored address, never the typed one: mail goes only to the client on record.
  return { mail: { template: minted.template, recipient: client.email, payload: minted.payload } };
}

/** An invitation: a client disabled or removed since it was sent gets nothing. */
async function prepareInvitation(
  context: PorticoContext,
  row: OutboxMail,
  request: InvitationRequest,
  mint: LinkMinters['invitation-request'],
  keys: MintingKeys,
): Promise<MailPreparation> {
  const workspace = await context.workspaces.findById(row.workspace_id);
  const client = workspace ? await findClientById(context.db, workspace.id, request.clientId) : null;
  if (!workspace || !client || client.disabled_at !== null) return { mail: null };
  const minted = await mint(context.db, row.created_at, workspace, client, request, keys);
  context.metrics.linksIssued.labels(minted.template).inc();
  return { mail: { template: minted.template, recipient: client.email, payload: minted.payload } };
}
