import type { PorticoMigration } from './index.js';

/**
 * Issue 17 item 2. Sign-in links say what they are for (`purpose`: an everyday `sign_in` link or
 * an `invitation`), so an invitation gets its own page and its session records how it began; and
 * a session ended from elsewhere (another browser, a password change or reset, disabling) leaves a
 * short note of why, so that browser can be told on its next visit. The note holds the session's
 * id hash and a reason, nothing else, and goes when the session would have expired anyway.
 */
export const invitationsAndSessionEndings: PorticoMigration = {
  async up(db, { timestampType }) {
    await db.schema.alterTable('magic_links').addColumn('purpose', 'text', (column) => column.notNull().defaultTo('sign_in')).execute();
    await db.schema
      .createTable('ended_sessions')
      .addColumn('id_hash', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('ended_at', timestampType, (c) => c.notNull())
      // The ended session's own expiry: after it, its cookie is gone from the browser as well.
      .addColumn('expires_at', timestampType, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('ended_sessions_expires').on('ended_sessions').column('expires_at').execute();
  },
};
