import type { PorticoMigration } from './index.js';

/**
 * Branding and languages (issue 18): a workspace's default language, accent colour, reply-to and
 * support addresses and the logo it shows (`mail_from` is older); a client's last language, for
 * mail sent without a browser (the admin API's sign-in link). Logos live in their own table, keyed
 * by workspace and the hash of their bytes, so every instance serves the same logo and the
 * workspace row read on every request stays small; earlier logos are kept, so mails already sent
 * still show theirs.
 */
export const brandingAndLanguages: PorticoMigration = {
  async up(db, { timestampType }) {
    await db.schema.alterTable('workspaces').addColumn('locale', 'text', (c) => c.notNull().defaultTo('en')).execute();
    await db.schema.alterTable('workspaces').addColumn('accent_color', 'text').execute();
    await db.schema.alterTable('workspaces').addColumn('reply_to', 'text').execute();
    await db.schema.alterTable('workspaces').addColumn('support_email', 'text').execute();
    await db.schema.alterTable('workspaces').addColumn('logo_hash', 'text').execute();
    await db.schema.alterTable('clients').addColumn('last_locale', 'text').execute();

    await db.schema
      .createTable('workspace_logos')
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      // sha256 of the bytes, hex: the logo's URL carries it, so a changed logo is a new URL. Keyed
      // with the workspace: two portals of one agency may well upload the same picture.
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      // Base64: one text column reads the same on both databases.
      .addColumn('data_base64', 'text', (c) => c.notNull())
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .addPrimaryKeyConstraint('workspace_logos_pk', ['workspace_id', 'hash'])
      .execute();
  },
};
