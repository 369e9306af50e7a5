import type { PorticoContext } from '../context.js';
import { recordAuditEvents, type AuditEventType } from '../events/audit-events.js';
import { decideEmailSend, workspaceLimits, type EmailSendDecision } from '../rate-limits/limits.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { mailTemplateOf } from '../mail/outbox.js';
import { enqueueMailRequest, type ClientEmailRequest } from './mail-request.js';

/** The audit event of each kind of client email request: recorded once, with its outcome. */
export const requestedEventOf = {
  'magic-link-request': 'magic_link.requested',
  'password-reset-request': 'password.reset_requested',
} as const satisfies Record<ClientEmailRequest['template'], AuditEventType>;

/**
/**
 * What the person asking may be told: whether this request went into the queue or an email went to
 * the address too recently (a cooldown or the hourly bucket), and when another can be asked for.
 * Both hold alike for known and unknown addresses. `outcome` says which limit held it back: a
 * door never shows it; the admin API, whose caller owns the workspace, does.
 */
export interface QueuedClientEmailRequest {
  queued: boolean;
  nextRequestAt: number;
  outcome: EmailSendDecision['outcome'];
}

/**
 * "Email me a link" at a door (or a sign-in link the owner sends through the admin API): the request only queues the work. Known and unknown addresses take
 * the very same path here (the per-address budget, then one insert), so neither the answer nor its
 * timing tells whether the address is a client (OWASP ASVS 6.3), and the work that differs happens
 * later, at the worker's own pace. The workspace's ceiling is not taken here: the worker takes it
 * for mail actually sent (prepareRequestedMail).
 */
export async function queueClientEmailRequest(context: PorticoContext, workspace: Workspace, request: ClientEmailRequest, ttlMs: number): Promise<QueuedClientEmailRequest> {
  const now = context.clock.now();
  const { normalizedEmail, typedEmail, ip } = request.payload;
  const decision = await decideEmailSend(context.db, now, workspaceLimits(context.config.limits, workspace), workspace.id, normalizedEmail);
  const answer = { queued: decision.outcome === 'allowed', nextRequestAt: decision.nextEmailAt, outcome: decision.outcome };
  if (decision.outcome !== 'allowed') {
    await recordAuditEvents(context.db, [{ workspaceId: workspace.id, at: now, type: requestedEventOf[request.template], email: typedEmail, ip, detail: { outcome: decision.outcome } }]);
    return answer;
  }
  await enqueueMailRequest(context.db, now, { workspaceId: workspace.id, request, recipient: normalizedEmail, giveUpAt: now + ttlMs });
  context.metrics.mailsQueued.labels(mailTemplateOf(request.template)).inc();
  // The worker is not woken: it takes the request at its next poll (a quarter of a second at most).
  // Woken now, it would build and send a client's mail while the asker's next request is served,
  // and that request's timing would tell whether this address is a client (bench:timing caught it).
  return answer;
}
