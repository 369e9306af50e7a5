import type { PorticoMigration } from './index.js';

export const passwordResets: PorticoMigration = {
  async up(db, { timestampType }) {
    await db.schema
      .createTable('password_resets')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('client_id', 'text', (c) => c.notNull().references('clients.id').onDelete('cascade'))
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .addColumn('expires_at', timestampType, (c) => c.notNull())
      .addColumn('ended_at', timestampType)
      .execute();
    await db.schema.createIndex('password_resets_client').on('password_resets').column('client_id').execute();
  },
};
