import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import { queueWebhookEvents } from '../webhooks/webhook-events.js';
import type { Workspace } from '../workspaces/workspaces.js';

/**
 * `password.changed` (with how: `set`, `changed` or `reset`), and `session.ended` when the change
 * signed other browsers out: in the transaction of the change.
 */
export async function queuePasswordWebhooks(
  db: Kysely<Database>,
  workspace: Workspace,
  client: { id: string; email: string },
  now: number,
  change: 'set' | 'changed' | 'reset',
  sessionsEnded: number,
): Promise<void> {
  await queueWebhookEvents(db, [
    { workspace, type: 'password.changed', at: now, client, data: { change } },
    ...(sessionsEnded > 0 ? [{ workspace, type: 'session.ended' as const, at: now, client, data: { reason: `password_${change}`, sessions: sessionsEnded } }] : []),
  ]);
}
