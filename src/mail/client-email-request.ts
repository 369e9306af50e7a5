import type { Kysely } from 'kysely';
import { findClientByNormalizedEmail, type Client } from '../clients/clients.js';
import type { EmailParseResult } from '../clients/email.js';
import type { PorticoContext } from '../context.js';
import { recordAuditEvents, type AuditEventType } from '../events/audit-events.js';
import { decideEmailSend, workspaceLimits } from '../rate-limits/limits.js';
import { takeWorkspaceEmailSlot } from '../rate-limits/workspace-email-ceiling.js';
import type { Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { enqueueMail, mailTemplateOf, markMailCounted, type MailPreparation, type OutboxMail, type OutboxTemplate } from './outbox.js';
import type { MailTemplateName } from './templates.js';

/** What a request row carries from the web request to the worker. */
export interface ClientEmailRequestPayload {
  normalizedEmail: string;
  typedEmail: string;
  ip: string;
  [extra: string]: unknown;
}

/**
 * "Email me a link" at a door: the request only queues the work. Known and unknown addresses take
 * the very same path here (the per-address budget, then one insert), so neither the answer nor its
 * timing tells whether the address is a client (OWASP ASVS 6.3), and the work that differs happens
 * later, at the worker's own pace. The workspace's ceiling is not taken here: the worker takes it
 * for mail actually sent (resolveClientEmailRequest).
 */
export async function queueClientEmailRequest(
  context: PorticoContext,
  workspace: Workspace,
  request: { template: OutboxTemplate; email: Extract<EmailParseResult, { ok: true }>; ip: string; ttlMs: number; eventType: AuditEventType; extra?: Record<string, unknown> },
): Promise<void> {
  const now = context.clock.now();
  const decision = await decideEmailSend(context.db, now, workspaceLimits(context.config.limits, workspace), workspace.id, request.email.normalized);
  if (decision !== 'allowed') {
    await recordAuditEvents(context.db, [{ workspaceId: workspace.id, at: now, type: request.eventType, email: request.email.email, ip: request.ip, detail: { outcome: decision } }]);
    return;
  }
  const payload: ClientEmailRequestPayload = { normalizedEmail: request.email.normalized, typedEmail: request.email.email, ip: request.ip, ...request.extra };
  await enqueueMail(context.db, now, { workspaceId: workspace.id, template: request.template, recipient: request.email.normalized, payload, giveUpAt: now + request.ttlMs });
  // The worker is not woken: it takes the request at its next poll (a quarter of a second at most).
  // Woken now, it would build and send a client's mail while the asker's next request is served,
  // and that request's timing would tell whether this address is a client (bench:timing caught it).
}

/** The mail of a known client's request, with the link `issue` minted and stored (as its hash) for it. */
export interface IssuedClientEmail {
  template: MailTemplateName;
  payload: Record<string, unknown>;
}

/**
 * In the worker, at each attempt to send: looks the client up; a known, enabled client gets the mail
 * with a link `issue` mints now, stored only as its hash; the token lives in memory until SMTP has
 * it (issue 13 item 7). Any other request comes to nothing and is erased. The outcome goes to the
 * audit log once per request.
 *
 * The workspace's hourly ceiling is taken here, once per mail, and only for a known client's mail
 * about to be sent: requests for made-up addresses cost it nothing, so they cannot silence a
 * workspace's mail (issue 13 item 9). One upsert takes the slot or refuses it, with no check
 * before. A refusal is the operator's to hear of (a log line and `mail.workspace_limited`), never
 * the asker's: the answer was given long before.
 */
export async function resolveClientEmailRequest(
  context: PorticoContext,
  row: OutboxMail,
  now: number,
  eventType: AuditEventType,
  issue: (db: Kysely<Database>, workspace: Workspace, client: Client, payload: ClientEmailRequestPayload, requestedAt: number) => Promise<IssuedClientEmail>,
): Promise<MailPreparation> {
  const db = context.db;
  const payload = JSON.parse(row.payload) as ClientEmailRequestPayload;
  // A workspace changed through the CLI shows here within a second, as it does to requests.
  const workspace = await context.workspaces.findById(row.workspace_id);
  const client = workspace ? await findClientByNormalizedEmail(db, workspace.id, payload.normalizedEmail) : null;
  if (!workspace || !client || client.disabled_at !== null) {
    const outcome = client ? 'client_disabled' : 'unknown_email';
    if (workspace) await recordAuditEvents(db, [{ workspaceId: workspace.id, at: row.created_at, type: eventType, email: payload.typedEmail, ip: payload.ip, detail: { outcome } }]);
    return { mail: null };
  }
  if (row.counted_at === null) {
    const ceiling = workspaceLimits(context.config.limits, workspace).workspaceEmailsPerHour;
    if (!(await takeWorkspaceEmailSlot(db, now, workspace.id, ceiling))) {
      await recordAuditEvents(db, [
        { workspaceId: workspace.id, at: row.created_at, type: eventType, email: client.email, ip: payload.ip, detail: { outcome: 'workspace_limited' } },
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
    await db.transaction().execute(async (trx) => {
      await markMailCounted(trx, row.id, now);
      await recordAuditEvents(trx, [{ workspaceId: workspace.id, at: row.created_at, type: eventType, email: client.email, ip: payload.ip, detail: { outcome: 'link_queued' } }]);
    });
    row.counted_at = now;
  }
  const issued = await issue(db, workspace, client, payload, row.created_at);
  // The stored address, never the typed one: mail goes only to the client on record.
  return { mail: { template: issued.template, recipient: client.email, payload: issued.payload } };
}
