import type { PorticoMigration } from './index.js';

export const rateLimits: PorticoMigration = {
  async up(db, { timestampType }) {
    await db.schema
      .createTable('rate_limits')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('window_start', timestampType, (c) => c.notNull())
      .addColumn('hits', 'integer', (c) => c.notNull())
      .addColumn('last_hit_at', timestampType, (c) => c.notNull())
      .addColumn('last_hit_id', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('rate_limits_window').on('rate_limits').column('window_start').execute();
  },
};
