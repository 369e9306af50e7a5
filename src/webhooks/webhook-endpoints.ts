import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { AppError } from '../errors.js';
import type { Clock } from '../shared/clock.js';
import type { Database, WebhookEndpointTable } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { hostOf, readWebhookUrl, resolveWebhookHost } from './webhook-address.js';
import { newWebhookEventId, webhookEventTypes, webhookPayload, webhookRetryWindowMs, webhookTestEventType } from './webhook-events.js';

export type WebhookEndpoint = Selectable<WebhookEndpointTable>;

/** Endpoints a workspace may have: a guard against a script adding one per run. */
export const maxEndpointsPerWorkspace = 20;

/** What `webhook list` prints: never the secret. */
export function describeWebhookEndpoint(endpoint: WebhookEndpoint) {
  return { id: endpoint.id, url: endpoint.url, events: JSON.parse(endpoint.events) as string[], createdAt: new Date(endpoint.created_at).toISOString() };
}

/**
 * A signing secret as the Standard Webhooks specification has it: `whsec_` and the base64 of the
 * key, here 32 random bytes (the specification asks for 24 to 64).
 */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** Reads `--events a,b`: known types, or `*` (and absent) for every type, those added later included. */
export function readWebhookEvents(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '' || raw.trim() === '*') return ['*'];
  const types = [...new Set(raw.split(',').map((type) => type.trim()).filter(Boolean))];
  const unknown = types.filter((type) => !(webhookEventTypes as readonly string[]).includes(type));
  if (unknown.length > 0 || types.length === 0) {
    throw new AppError('WEBHOOK_EVENTS_INVALID', { message: `Unknown event type${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}: choose among ${webhookEventTypes.join(', ')}, or * for all.` });
  }
  return types;
}

/**
 * Adds an endpoint; the secret is returned here and shown once. A URL that is not http(s), or whose
 * host is or resolves to an internal address, is refused unless `allowPrivate`
 * (WEBHOOK_ALLOW_PRIVATE): the check is made again at every delivery.
 */
export async function addWebhookEndpoint(
  db: Kysely<Database>,
  clock: Clock,
  workspace: Workspace,
  input: { url: string; events?: string },
  options: { allowPrivate: boolean },
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const checked = readWebhookUrl(input.url);
  if (!checked.ok) throw new AppError('WEBHOOK_URL_INVALID', { message: `The webhook URL cannot be used: ${checked.reason}.` });
  const events = readWebhookEvents(input.events);
  const resolved = await resolveWebhookHost(hostOf(checked.url), options.allowPrivate);
  if (!resolved.ok) throw new AppError('WEBHOOK_URL_REFUSED', { message: `The webhook URL cannot be used: ${resolved.reason}.` });
  const count = await db.selectFrom('webhook_endpoints').select((eb) => eb.fn.countAll<number>().as('count')).where('workspace_id', '=', workspace.id).executeTakeFirstOrThrow();
  if (Number(count.count) >= maxEndpointsPerWorkspace) {
    throw new AppError('WEBHOOK_LIMIT_REACHED', { message: `The workspace "${workspace.slug}" has ${maxEndpointsPerWorkspace} webhook endpoints already; remove one first.` });
  }
  const secret = generateWebhookSecret();
  const endpoint: WebhookEndpoint = {
    id: `whe_${randomBytes(9).toString('base64url')}`,
    workspace_id: workspace.id,
    url: checked.url.href,
    events: JSON.stringify(events),
    secret,
    created_at: clock.now(),
  };
  await db.insertInto('webhook_endpoints').values(endpoint).execute();
  return { endpoint, secret };
}

/** A workspace's endpoints, oldest first. */
export async function listWebhookEndpoints(db: Kysely<Database>, workspace: Workspace): Promise<WebhookEndpoint[]> {
  return db.selectFrom('webhook_endpoints').selectAll().where('workspace_id', '=', workspace.id).orderBy('created_at').orderBy('id').execute();
}

/** The endpoint of this workspace with this id; WEBHOOK_NOT_FOUND otherwise (another workspace's included). */
export async function requireWebhookEndpoint(db: Kysely<Database>, workspace: Workspace, id: string): Promise<WebhookEndpoint> {
  const endpoint = await db.selectFrom('webhook_endpoints').selectAll().where('workspace_id', '=', workspace.id).where('id', '=', id).executeTakeFirst();
  if (!endpoint) throw new AppError('WEBHOOK_NOT_FOUND', { message: `No webhook endpoint with the id "${id}" in the workspace "${workspace.slug}".` });
  return endpoint;
}

/** Removes an endpoint with its pending deliveries and its record of attempts: nothing more goes to it. */
export async function removeWebhookEndpoint(db: Kysely<Database>, workspace: Workspace, id: string): Promise<WebhookEndpoint> {
  return db.transaction().execute(async (trx) => {
    const endpoint = await requireWebhookEndpoint(trx, workspace, id);
    await trx.deleteFrom('webhook_endpoints').where('id', '=', endpoint.id).execute();
    await trx.deleteFrom('webhook_deliveries').where('endpoint_id', '=', endpoint.id).execute();
    await trx.deleteFrom('webhook_attempts').where('endpoint_id', '=', endpoint.id).execute();
    return endpoint;
  });
}

/** Queues a `webhook.test` event to one endpoint, whatever it subscribed to; the running server delivers it. */
export async function queueWebhookTest(db: Kysely<Database>, clock: Clock, workspace: Workspace, id: string): Promise<{ eventId: string; endpointId: string; type: string }> {
  const endpoint = await requireWebhookEndpoint(db, workspace, id);
  const now = clock.now();
  const eventId = newWebhookEventId();
  await db
    .insertInto('webhook_deliveries')
    .values({
      event_id: eventId,
      endpoint_id: endpoint.id,
      workspace_id: workspace.id,
      type: webhookTestEventType,
      payload: webhookPayload(webhookTestEventType, now, { workspace: workspace.slug, endpoint: endpoint.id }),
      state: 'pending',
      attempts: 0,
      next_attempt_at: now,
      lease_until: null,
      give_up_at: now + webhookRetryWindowMs,
      created_at: now,
      finished_at: null,
    })
    .execute();
  return { eventId, endpointId: endpoint.id, type: webhookTestEventType };
}
