import type { PorticoMigration } from './index.js';

/**
 * The admin API (issue 19 item 1): a workspace's API keys, stored only as the hash of the key,
 * and the answers to requests sent with an `Idempotency-Key`, kept a day so a retried request
 * gets the first answer instead of a second mail.
 */
export const apiKeys: PorticoMigration = {
  async up(db, { timestampType }) {
    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      // sha256 of the key, base64url (crypto/tokens.ts): a leaked table holds no usable key.
      .addColumn('key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .addColumn('revoked_at', timestampType)
      .execute();
    await db.schema.createIndex('api_keys_workspace').on('api_keys').columns(['workspace_id', 'created_at']).execute();

    await db.schema
      .createTable('idempotent_requests')
      .addColumn('api_key_id', 'text', (c) => c.notNull().references('api_keys.id').onDelete('cascade'))
      .addColumn('idempotency_key', 'text', (c) => c.notNull())
      // sha256 of the method, path and body: the same key with another request is refused.
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotent_requests_pk', ['api_key_id', 'idempotency_key'])
      .execute();
    await db.schema.createIndex('idempotent_requests_age').on('idempotent_requests').column('created_at').execute();
  },
};
