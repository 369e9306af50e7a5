import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database } from '../storage/schema.js';

/** The events a workspace's endpoints can subscribe to (README "Webhooks" says what each carries). */
export const webhookEventTypes = [
  'client.signed_in',
  'client.signed_out',
  'session.ended',
  'magic_link.requested',
  'client.added',
  'client.disabled',
  'password.changed',
] as const;

export type WebhookEventType = (typeof webhookEventTypes)[number];

/** What `portico webhook test` sends: to one endpoint, whatever it subscribed to. */
export const webhookTestEventType = 'webhook.test';

/** How long an event is retried before it is given up (Standard Webhooks suggests about a day). */
export const webhookRetryWindowMs = 24 * 3600_000;

/** The client an event is about, as the owner knows it: never a token, a session id or an IP. */
export interface WebhookClient {
  id: string;
  email: string;
}

export interface WebhookEventInput {
  workspace: { id: string; slug: string };
  type: WebhookEventType;
  at: number;
  client: WebhookClient;
  /** Facts of this type (the door of a sign-in, why sessions ended). */
  data?: Record<string, string | number | boolean | null>;
  /**
   * A stable id for an event that may be queued more than once for one change (the outbox worker
   * retrying a request): the second queueing then adds nothing. Random when absent.
   */
  eventId?: string;
}

/** A fresh message id: `msg_` and 128 random bits. */
export function newWebhookEventId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

/** The JSON body every endpoint receives, after the Standard Webhooks payload structure. */
export function webhookPayload(type: string, at: number, data: Record<string, unknown>): string {
  return JSON.stringify({ type, timestamp: new Date(at).toISOString(), data });
}

// Runs inside sign-ins, on every one: compiled once. One small indexed read, and nothing more for a
// workspace without endpoints (most of them).
const selectEndpointsOfWorkspace = prepareQuery((db, workspaceId: string) =>
  db.selectFrom('webhook_endpoints').select(['id', 'events']).where('workspace_id', '=', workspaceId),
);

/** True when an endpoint's stored subscription takes events of this type. */
export function endpointTakes(events: string, type: string): boolean {
  const subscribed = JSON.parse(events) as string[];
  return subscribed.includes('*') || subscribed.includes(type);
}

/**
 * Queues events for every endpoint of their workspace that subscribed to them. Call it with the
 * transaction of the change the events report, so an event is queued if and only if the change
 * happened; the worker (webhook-worker.ts) delivers them. All events must be of one workspace.
 */
export async function queueWebhookEvents(db: Kysely<Database>, events: WebhookEventInput[]): Promise<void> {
  if (events.length === 0) return;
  const workspace = events[0]!.workspace;
  const endpoints = await selectEndpointsOfWorkspace(db, workspace.id);
  if (endpoints.length === 0) return;
  const rows = events.flatMap((event) => {
    const eventId = event.eventId ?? newWebhookEventId();
    const payload = webhookPayload(event.type, event.at, { workspace: workspace.slug, client: event.client, ...event.data });
    return endpoints
      .filter((endpoint) => endpointTakes(endpoint.events, event.type))
      .map((endpoint) => ({
        event_id: eventId,
        endpoint_id: endpoint.id,
        workspace_id: workspace.id,
        type: event.type,
        payload,
        state: 'pending' as const,
        attempts: 0,
        next_attempt_at: event.at,
        lease_until: null,
        give_up_at: event.at + webhookRetryWindowMs,
        created_at: event.at,
        finished_at: null,
      }));
  });
  // 12 parameters a row: well under either database's limit on bound parameters at 100 rows.
  for (let start = 0; start < rows.length; start += 100) {
    await db
      .insertInto('webhook_deliveries')
      .values(rows.slice(start, start + 100))
      // A stable event id queued again (a retried request) is already there: once is enough.
      .onConflict((conflict) => conflict.columns(['event_id', 'endpoint_id']).doNothing())
      .execute();
  }
}

/** Queues one event (queueWebhookEvents). */
export async function queueWebhookEvent(db: Kysely<Database>, event: WebhookEventInput): Promise<void> {
  await queueWebhookEvents(db, [event]);
}
