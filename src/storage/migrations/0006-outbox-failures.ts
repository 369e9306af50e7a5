import type { PorticoMigration } from './index.js';

/**
 * Outbox rows learn two things (issue 13): how many attempts failed for a reason other than the
 * mail server being unreachable, so such a row is given up after a few (item 4), and when the mail
 * took its place under the workspace's hourly email ceiling, taken once per mail by the worker
 * rather than per request (item 9).
 */
export const outboxFailures: PorticoMigration = {
  async up(db, { timestampType }) {
    await db.schema.alterTable('outbox').addColumn('failures', 'integer', (column) => column.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('outbox').addColumn('counted_at', timestampType).execute();
  },
};
