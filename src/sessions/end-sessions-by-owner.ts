import { requireClient, type ClientSelector } from '../clients/clients.js';
import type { PorticoContext } from '../context.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { queueWebhookEvent } from '../webhooks/webhook-events.js';
import { inTransaction } from '../storage/in-transaction.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { endAllClientSessions } from './sessions.js';

/**
 * The owner signs a client out everywhere (the admin API): every session ends, and with the
 * client's session generation the refresh tokens of its apps. Links stay: the client may sign in
 * again. Returns how many sessions ended.
 */
export async function endAllSessionsOfClientByOwner(context: PorticoContext, workspace: Workspace, selector: ClientSelector, input: { ip: string }): Promise<number> {
  const now = context.clock.now();
  return inTransaction(context.db, async (trx) => {
    const client = await requireClient(trx, workspace, selector);
    const ended = await endAllClientSessions({ db: trx, sessionCache: context.sessionCache }, client.id);
    await recordAuditEvents(trx, [
      { workspaceId: workspace.id, at: now, type: 'session.ended', email: client.email, ip: input.ip, detail: { reason: 'ended_by_owner', sessions: ended } },
    ]);
    if (ended > 0) {
      await queueWebhookEvent(trx, { workspace, type: 'session.ended', at: now, client: { id: client.id, email: client.email }, data: { reason: 'ended_by_owner', sessions: ended } });
    }
    return ended;
  });
}
