import type { PorticoMigration } from './index.js';

/**
 * A one-time code beside each sign-in link (issue 17 item 1). It lives on the link's own row, so
 * whatever ends a link ends its code in the same statement, and the other way round: using either
 * ends every other pending link and code of the client. `code_hash` is a keyed hash, never the
 * code; `code_attempts` counts the guesses compared against it (at most 10, then it is dead).
 */
export const signInCodes: PorticoMigration = {
  async up(db) {
    await db.schema.alterTable('magic_links').addColumn('code_hash', 'text').execute();
    await db.schema.alterTable('magic_links').addColumn('code_attempts', 'integer', (column) => column.notNull().defaultTo(0)).execute();
    // A guess is compared with the pending codes of the browser that asked for them.
    await db.schema.createIndex('magic_links_browser').on('magic_links').column('browser_binding_hash').execute();
    // A refused code is explained (used, expired, another browser's) by its hash.
    await db.schema.createIndex('magic_links_code').on('magic_links').columns(['workspace_id', 'code_hash']).execute();
  },
};
