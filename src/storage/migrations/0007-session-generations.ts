import type { PorticoMigration } from './index.js';

/**
 * Each client counts how many times all its sessions were ended (sign out everywhere, a password
 * change or reset, disabling), and each session records the count its sign-in saw. A session whose
 * count is behind its client's is over: a sign-in that checked the client just before everything
 * was ended, and stored its session just after, cannot outlive the ending (issue 14 review).
 */
export const sessionGenerations: PorticoMigration = {
  async up(db) {
    await db.schema.alterTable('clients').addColumn('session_generation', 'integer', (column) => column.notNull().defaultTo(0)).execute();
    await db.schema.alterTable('sessions').addColumn('client_generation', 'integer', (column) => column.notNull().defaultTo(0)).execute();
  },
};
