import type { PorticoContext } from '../context.js';
import { startPollingLoop, type PollingLoopState } from '../shared/polling-loop.js';
import { claimDueWebhookDeliveries, dropWebhookDelivery, finishWebhookAttempt, type WebhookDelivery, type WebhookDeliveryOutcome } from './webhook-deliveries.js';
import { sendWebhook } from './webhook-sender.js';

export interface WebhookWorkerOptions {
  pollIntervalMs?: number;
  /** How long a claimed delivery is this worker's: longer than an attempt can take (`timeoutMs`). */
  leaseMs?: number;
  batchSize?: number;
  /**
   * Told the outcome of every attempt, once it is recorded: the one place a counter of webhook
   * deliveries by outcome (metrics, issue 19 item 3) hooks in.
   */
  recordWebhookDelivery?: (outcome: WebhookDeliveryOutcome) => void;
  /** Where failures of the worker itself are reported; never given a secret or a payload. */
  logError?: (message: string, error: unknown) => void;
}

export interface WebhookWorker {
  /** Delivers due events now rather than at the next poll. */
  wake(): void;
  /** Stops polling and waits for the attempts in flight. */
  stop(): Promise<void>;
}

/**
 * Delivers the webhook outbox: claims due deliveries under a lease (several instances on
 * PostgreSQL share the table, and no delivery is attempted by two at once), sends each, records
 * the attempt. At least once: a crash after the receiver answered and before the record is
 * written sends the event again when the lease runs out, under the same `webhook-id`, which a
 * receiver uses to ignore the repeat.
 */
export function startWebhookWorker(context: PorticoContext, options: WebhookWorkerOptions = {}): WebhookWorker {
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const timeoutMs = context.config.webhooks.timeoutMs;
  const leaseMs = options.leaseMs ?? Math.max(60_000, timeoutMs * 3);
  const batchSize = options.batchSize ?? 20;
  const logError = options.logError ?? (() => {});
  const recordWebhookDelivery = options.recordWebhookDelivery ?? (() => {});

  async function deliver(claimed: WebhookDelivery): Promise<void> {
    const endpoint = await context.db.selectFrom('webhook_endpoints').select(['url', 'secret']).where('id', '=', claimed.endpoint_id).executeTakeFirst();
    if (!endpoint) return dropWebhookDelivery(context.db, claimed);
    const result = await sendWebhook(
      { url: endpoint.url, secret: endpoint.secret, eventId: claimed.event_id, payload: claimed.payload },
      { timeoutMs, allowPrivate: context.config.webhooks.allowPrivate },
    );
    const outcome = await finishWebhookAttempt(context.db, claimed, context.clock.now(), result);
    // The outcome is known and recorded here, and only here.
    recordWebhookDelivery(outcome);
  }

  async function drain(loop: PollingLoopState): Promise<void> {
    do {
      loop.wakeRequested = false;
      const claimed = await claimDueWebhookDeliveries(context.db, context.clock.now(), leaseMs, batchSize);
      await Promise.all(claimed.map((delivery) => deliver(delivery).catch((error: unknown) => logError(`delivering webhook ${delivery.event_id} failed; retrying when its lease ends`, error))));
      if (claimed.length === batchSize) loop.wakeRequested = true;
    } while (loop.wakeRequested && !loop.stopped);
  }

  return startPollingLoop(drain, {
    pollIntervalMs,
    onError: (error) => logError('the webhook outbox could not be read; retrying', error),
  });
}
