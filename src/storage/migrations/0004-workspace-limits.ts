import type { PorticoMigration } from './index.js';

/** Per-workspace overrides of the abuse limits; null means "the environment's default". */
export const workspaceLimits: PorticoMigration = {
  async up(db, { timestampType }) {
    await db.schema.alterTable('workspaces').addColumn('limit_email_cooldown_ms', timestampType).execute();
    for (const column of ['limit_emails_per_hour', 'limit_ip_per_minute', 'limit_redemptions_per_5_minutes', 'limit_workspace_emails_per_hour']) {
      await db.schema.alterTable('workspaces').addColumn(column, 'integer').execute();
    }
  },
};
