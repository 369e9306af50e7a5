import type { PorticoMigration } from './index.js';

/**
 * Apps that rely on a workspace's sign-in through OpenID Connect (issue 15): the apps an owner
 * registered, each workspace's signing keys, and what `oidc-provider` stores (codes, tokens,
 * grants, its sessions and interactions). Every identifier that is a credential is stored only as
 * its hash (`id_hash`); see apps/oidc/oidc-storage-adapter.ts.
 */
export const apps: PorticoMigration = {
  async up(db, { timestampType }) {
    await db.schema
      .createTable('apps')
      .addColumn('client_id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      // sha256 of the secret, hex; null for a public app (PKCE alone).
      .addColumn('secret_hash', 'text')
      .addColumn('redirect_uris', 'text', (c) => c.notNull())
      .addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull())
      .addColumn('created_at', timestampType, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('apps_workspace').on('apps').column('workspace_id').execute();

    await db.schema
      .createTable('signing_keys')
      .addColumn('kid', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      // The private JWK, as JSON: the one secret Portico must keep readable to sign with it.
      .addColumn('private_jwk', 'text', (c) => c.notNull())
      .addColumn('created_at', timestampType, (c) => c.notNull())
      // Once a newer key signs, this one stays published until tokens it signed have expired.
      .addColumn('retire_at', timestampType)
      .execute();
    await db.schema.createIndex('signing_keys_workspace').on('signing_keys').columns(['workspace_id', 'created_at']).execute();

    await db.schema
      .createTable('oidc_payloads')
      .addColumn('model', 'text', (c) => c.notNull())
      .addColumn('id_hash', 'text', (c) => c.notNull())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('grant_id', 'text')
      // oidc-provider's session's public uid (the `sid` of ID tokens; not its cookie, which is the id).
      .addColumn('session_uid', 'text')
      .addColumn('account_id', 'text')
      // The app it was issued to: removing an app ends its tokens.
      .addColumn('app_id', 'text')
      // The client's session generation the sign-in saw (sessions/sessions.ts): behind the client's,
      // the grant and every token issued from it are over.
      .addColumn('client_generation', 'integer')
      .addColumn('expires_at', timestampType)
      .addColumn('consumed_at', timestampType)
      .addPrimaryKeyConstraint('oidc_payloads_pk', ['model', 'id_hash'])
      .execute();
    // A token finds its grant row (model 'Grant', same grant_id) and a revocation its grant's rows by this,
    // however many codes one grant issued.
    await db.schema.createIndex('oidc_payloads_grant').on('oidc_payloads').columns(['grant_id', 'model']).execute();
    await db.schema.createIndex('oidc_payloads_session_uid').on('oidc_payloads').column('session_uid').execute();
    await db.schema.createIndex('oidc_payloads_account').on('oidc_payloads').column('account_id').execute();
    await db.schema.createIndex('oidc_payloads_app').on('oidc_payloads').column('app_id').execute();
    await db.schema.createIndex('oidc_payloads_expiry').on('oidc_payloads').column('expires_at').execute();
  },
};
