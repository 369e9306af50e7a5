import type { PorticoMigration } from './index.js';

/**
 * Signed webhooks (issue 19 item 2): a workspace's endpoints, the durable outbox of deliveries
 * (one row per event and endpoint, kept after delivery as its record) and every attempt made.
 * Deliveries and attempts hold no foreign key to their endpoint: queueing an event runs inside
 * the transaction of the change it reports (a sign-in, a disable), which must never fail because
 * an endpoint was removed at the same moment. Removing an endpoint deletes its rows itself.
 */
export const webhooks: PorticoMigration = {
  async up(db, { timestampType, autoIncrementType }) {
    await db.schema
      .createTable('webhook_endpoints')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('url', 'text', (c) => c.notNull())
      // JSON array of event types, or ["*"] for every type (those added later included).
      .addColumn('events', 'text', (c) => c.notNull())
      // The signing secret (whsec_…), as is: it must sign, so a hash will not do (SECURITY.md).
      .addColumn('secret', 'text', (c) => c.notNull())
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('webhook_endpoints_workspace').on('webhook_endpoints').columns(['workspace_id', 'created_at']).execute();

    await db.schema
      .createTable('webhook_deliveries')
      // The message id (`webhook-id`), the same for every endpoint of the event and on every retry.
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('endpoint_id', 'text', (c) => c.notNull())
      .addColumn('workspace_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      // `pending` until a 2xx (`delivered`) or until retries stop (`failed`).
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', timestampType, (c) => c.notNull())
      .addColumn('lease_until', timestampType)
      .addColumn('give_up_at', timestampType, (c) => c.notNull())
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .addColumn('finished_at', timestampType)
      .addPrimaryKeyConstraint('webhook_deliveries_pk', ['event_id', 'endpoint_id'])
      .execute();
    await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['state', 'next_attempt_at']).execute();
    await db.schema.createIndex('webhook_deliveries_endpoint').on('webhook_deliveries').column('endpoint_id').execute();

    await db.schema
      .createTable('webhook_attempts')
      .addColumn('id', autoIncrementType, (c) => (autoIncrementType === 'integer' ? c.primaryKey().autoIncrement() : c.primaryKey()))
      .addColumn('workspace_id', 'text', (c) => c.notNull())
      .addColumn('endpoint_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('at', timestampType, (c) => c.notNull())
      // The HTTP status of the answer, or null when there was none (then `error` says why).
      .addColumn('status_code', 'integer')
      .addColumn('error', 'text')
      .addColumn('delivered', 'integer', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('webhook_attempts_workspace').on('webhook_attempts').columns(['workspace_id', 'id']).execute();
    await db.schema.createIndex('webhook_attempts_endpoint').on('webhook_attempts').column('endpoint_id').execute();
  },
};
