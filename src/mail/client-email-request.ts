import type { Kysely } from 'kysely';
import { findClientByNormalizedEmail, type Client } from '../clients/clients.js';
import type { EmailParseResult } from '../clients/email.js';
import type { PorticoContext } from '../context.js';
import { recordAuditEvents, type AuditEventType } from '../events/audit-events.js';
import { decideEmailSend, workspaceLimits } from '../rate-limits/limits.js';
import type { Database } from '../storage/schema.js';
import { workspaceDirectoryOf } from '../workspaces/workspace-directory.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { enqueueMail, eraseMail, turnRequestIntoMail, type OutboxMail, type OutboxTemplate } from './outbox.js';
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
 * the very same path here (the per-address and per-workspace budget, then one insert), so neither
 * the answer nor its timing tells whether the address is a client (OWASP ASVS 6.3), and the work
 * that differs happens later, at the worker's own pace.
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

/** What a door stores for a known client, and the mail that carries it. */
export interface IssuedClientEmail {
  template: MailTemplateName;
  payload: Record<string, unknown>;
  giveUpAt: number;
}

/**
 * In the worker: looks the client up; a known, enabled client gets what `issue` stores (a link),
 * and the request row becomes its mail. Any other request is erased. The outcome goes to the audit
 * log either way. The link is stored before the row becomes its mail, without a transaction around
 * both: a crash in between leaves a link whose token nobody holds (it expires unused), and the
 * request, still a request, is prepared again once its lease runs out.
 */
export async function resolveClientEmailRequest(
  db: Kysely<Database>,
  row: OutboxMail,
  eventType: AuditEventType,
  issue: (db: Kysely<Database>, workspace: Workspace, client: Client, payload: ClientEmailRequestPayload, requestedAt: number) => Promise<IssuedClientEmail>,
): Promise<OutboxMail | null> {
  const payload = JSON.parse(row.payload) as ClientEmailRequestPayload;
  // A workspace changed through the CLI shows here within a second, as it does to requests.
  const workspace = await workspaceDirectoryOf(db).findById(row.workspace_id);
  const client = workspace ? await findClientByNormalizedEmail(db, workspace.id, payload.normalizedEmail) : null;
  if (!workspace || !client || client.disabled_at !== null) {
    const outcome = client ? 'client_disabled' : 'unknown_email';
    await Promise.all([
      eraseMail(db, row.id),
      workspace && recordAuditEvents(db, [{ workspaceId: workspace.id, at: row.created_at, type: eventType, email: payload.typedEmail, ip: payload.ip, detail: { outcome } }]),
    ]);
    return null;
  }
  const issued = await issue(db, workspace, client, payload, row.created_at);
  // The stored address, never the typed one: mail goes only to the client on record.
  const [mail] = await Promise.all([
    turnRequestIntoMail(db, { id: row.id, template: issued.template, recipient: client.email, payload: JSON.stringify(issued.payload), giveUpAt: issued.giveUpAt }),
    recordAuditEvents(db, [{ workspaceId: workspace.id, at: row.created_at, type: eventType, email: client.email, ip: payload.ip, detail: { outcome: 'link_queued' } }]),
  ]);
  return mail;
}
