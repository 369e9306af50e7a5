import type { PorticoMigration } from './index.js';

/**
 * Logos keyed by workspace and hash together (issue 18): with the hash alone as the key, a second
 * workspace uploading the same picture (an agency's two portals) could not store it as its own,
 * and its logo would answer 404. Nothing wrote to the table before this migration (0014 only
 * created it), so it is rebuilt rather than copied: SQLite cannot change a primary key in place.
 */
export const brandingLogosPerWorkspace: PorticoMigration = {
  async up(db, { timestampType }) {
    await db.schema.dropTable('workspace_logos').execute();
    await db.schema
      .createTable('workspace_logos')
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      // sha256 of the bytes, hex: the logo's URL carries it, so a changed logo is a new URL.
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      // Base64: one text column reads the same on both databases.
      .addColumn('data_base64', 'text', (c) => c.notNull())
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .addPrimaryKeyConstraint('workspace_logos_pk', ['workspace_id', 'hash'])
      .execute();
  },
};
