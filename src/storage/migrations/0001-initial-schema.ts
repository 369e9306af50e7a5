import type { PorticoMigration } from './index.js';

export const initialSchema: PorticoMigration = {
  async up(db, { autoIncrementType, timestampType }) {
    await db.schema
      .createTable('workspaces')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('slug', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('host', 'text', (c) => c.notNull().unique())
      .addColumn('magic_link_ttl_ms', 'integer', (c) => c.notNull())
      .addColumn('mail_from', 'text')
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('clients')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('email_normalized', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text')
      .addColumn('disabled_at', timestampType)
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .addUniqueConstraint('clients_workspace_email_unique', ['workspace_id', 'email_normalized'])
      .execute();

    await db.schema
      .createTable('magic_links')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('client_id', 'text', (c) => c.notNull().references('clients.id').onDelete('cascade'))
      .addColumn('browser_binding_hash', 'text')
      .addColumn('next_path', 'text')
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .addColumn('expires_at', timestampType, (c) => c.notNull())
      .addColumn('ended_at', timestampType)
      .addColumn('end_reason', 'text')
      .execute();
    await db.schema.createIndex('magic_links_client').on('magic_links').column('client_id').execute();
    await db.schema.createIndex('magic_links_expires').on('magic_links').column('expires_at').execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id_hash', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('client_id', 'text', (c) => c.notNull().references('clients.id').onDelete('cascade'))
      .addColumn('sign_in_method', 'text', (c) => c.notNull())
      .addColumn('user_agent', 'text', (c) => c.notNull())
      .addColumn('ip', 'text', (c) => c.notNull())
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .addColumn('last_seen_at', timestampType, (c) => c.notNull())
      .addColumn('expires_at', timestampType, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('sessions_client').on('sessions').column('client_id').execute();
    await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at').execute();

    await db.schema
      .createTable('outbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('template', 'text', (c) => c.notNull())
      .addColumn('recipient', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', timestampType, (c) => c.notNull())
      .addColumn('lease_until', timestampType)
      .addColumn('give_up_at', timestampType, (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('outbox_due').on('outbox').column('next_attempt_at').execute();

    await db.schema
      .createTable('events')
      .addColumn('id', autoIncrementType, (c) => (autoIncrementType === 'integer' ? c.primaryKey().autoIncrement() : c.primaryKey()))
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('at', timestampType, (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('email', 'text')
      .addColumn('ip', 'text')
      .addColumn('detail', 'text')
      .execute();
    await db.schema.createIndex('events_workspace').on('events').columns(['workspace_id', 'id']).execute();
  },
};
