import type { PorticoMigration } from './index.js';

/**
 * Where a signed-out visitor of `/` is sent: `email` (the sign-in link page, which every client can
 * use) or `password` (issue 17 item 2). Existing workspaces get `email`.
 */
export const defaultDoor: PorticoMigration = {
  async up(db) {
    await db.schema.alterTable('workspaces').addColumn('default_door', 'text', (column) => column.notNull().defaultTo('email')).execute();
  },
};
