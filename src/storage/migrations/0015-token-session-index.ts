import type { PorticoMigration } from './index.js';

/**
 * Codes and tokens bound to oidc-provider's session now record its uid too (session_uid), so
 * userinfo reads a token and the session it ends with in one statement. One session can issue
 * thousands of them: its own row is found by (session_uid, model), not by the uid alone.
 */
export const tokenSessionIndex: PorticoMigration = {
  async up(db) {
    await db.schema.dropIndex('oidc_payloads_session_uid').execute();
    await db.schema.createIndex('oidc_payloads_session_uid').on('oidc_payloads').columns(['session_uid', 'model']).execute();
  },
};
