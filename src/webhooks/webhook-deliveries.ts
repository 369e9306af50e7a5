import type { Kysely, Selectable } from 'kysely';
import { operationsOf } from '../storage/operations/storage-operations.js';
import type { Database, WebhookDeliveryTable } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import type { WebhookAttemptResult } from './webhook-sender.js';

export type WebhookDelivery = Selectable<WebhookDeliveryTable>;

/**
 * Waits after the 1st, 2nd … failed attempt: the first retry within 30 s, then growing, then every
 * 8 hours until the day is over (after the Standard Webhooks / Svix schedule).
 */
const retryDelaysMs = [5_000, 30_000, 2 * 60_000, 10 * 60_000, 30 * 60_000, 3600_000, 2 * 3600_000, 4 * 3600_000, 8 * 3600_000];

/** The wait after `failedAttempts` failures, within ±10 % so endpoints that failed together are not retried in step. */
export function webhookRetryDelayMs(failedAttempts: number): number {
  const base = retryDelaysMs[Math.min(retryDelaysMs.length, Math.max(1, failedAttempts)) - 1]!;
  return Math.round(base * (0.9 + Math.random() * 0.2));
}

/** Leases due deliveries to this worker (webhook-worker.ts) until `now + leaseMs`. */
export async function claimDueWebhookDeliveries(db: Kysely<Database>, now: number, leaseMs: number, batchSize: number): Promise<WebhookDelivery[]> {
  return operationsOf(db).claimDueWebhookDeliveries(now, now + leaseMs, batchSize);
}

export type WebhookDeliveryOutcome = 'delivered' | 'retrying' | 'given_up';

/**
 * Records an attempt and what it leaves the delivery: delivered on a 2xx, else retried later, or
 * given up once its day is over. The delivery changes only while this worker's lease
 * (`claimed.lease_until`) holds; the attempt is recorded whatever happens.
 */
export async function finishWebhookAttempt(db: Kysely<Database>, claimed: WebhookDelivery, now: number, result: WebhookAttemptResult): Promise<WebhookDeliveryOutcome> {
  const delivered = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const outcome: WebhookDeliveryOutcome = delivered ? 'delivered' : now >= claimed.give_up_at ? 'given_up' : 'retrying';
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('webhook_attempts')
      .values({
        workspace_id: claimed.workspace_id,
        endpoint_id: claimed.endpoint_id,
        event_id: claimed.event_id,
        type: claimed.type,
        attempt: claimed.attempts,
        at: now,
        status_code: result.statusCode,
        error: result.error === null ? null : result.error.slice(0, 500),
        delivered: delivered ? 1 : 0,
      })
      .execute();
    const update = trx
      .updateTable('webhook_deliveries')
      .where('event_id', '=', claimed.event_id)
      .where('endpoint_id', '=', claimed.endpoint_id)
      .where('lease_until', '=', claimed.lease_until);
    if (outcome === 'retrying') {
      // The last retry comes at the end of the day, not a few hours short of it.
      await update.set({ lease_until: null, next_attempt_at: Math.min(now + webhookRetryDelayMs(claimed.attempts), claimed.give_up_at) }).execute();
    } else {
      await update.set({ lease_until: null, state: outcome === 'delivered' ? 'delivered' : 'failed', finished_at: now }).execute();
    }
  });
  return outcome;
}

/** Forgets a delivery whose endpoint was removed while it was claimed. */
export async function dropWebhookDelivery(db: Kysely<Database>, claimed: WebhookDelivery): Promise<void> {
  await db.deleteFrom('webhook_deliveries').where('event_id', '=', claimed.event_id).where('endpoint_id', '=', claimed.endpoint_id).execute();
}

/** One attempt as `webhook deliveries` prints it. */
export interface WebhookAttemptRecord {
  at: string;
  eventId: string;
  type: string;
  endpointId: string;
  url: string | null;
  attempt: number;
  statusCode: number | null;
  error: string | null;
  delivered: boolean;
}

/** A workspace's attempts, newest first, of one endpoint or all. */
export async function listWebhookAttempts(db: Kysely<Database>, workspace: Workspace, options: { endpointId?: string; limit: number }): Promise<WebhookAttemptRecord[]> {
  let select = db
    .selectFrom('webhook_attempts')
    .leftJoin('webhook_endpoints', 'webhook_endpoints.id', 'webhook_attempts.endpoint_id')
    .select([
      'webhook_attempts.at',
      'webhook_attempts.event_id',
      'webhook_attempts.type',
      'webhook_attempts.endpoint_id',
      'webhook_endpoints.url',
      'webhook_attempts.attempt',
      'webhook_attempts.status_code',
      'webhook_attempts.error',
      'webhook_attempts.delivered',
    ])
    .where('webhook_attempts.workspace_id', '=', workspace.id);
  if (options.endpointId) select = select.where('webhook_attempts.endpoint_id', '=', options.endpointId);
  const rows = await select.orderBy('webhook_attempts.id', 'desc').limit(options.limit).execute();
  return rows.map((row) => ({
    at: new Date(Number(row.at)).toISOString(),
    eventId: row.event_id,
    type: row.type,
    endpointId: row.endpoint_id,
    url: row.url,
    attempt: row.attempt,
    statusCode: row.status_code,
    error: row.error,
    delivered: Number(row.delivered) === 1,
  }));
}
