import type { PorticoMigration } from './index.js';

/** Audit events by time, so the retention purge (`EVENTS_RETENTION`) finds old rows without reading the whole log. */
export const eventsByTime: PorticoMigration = {
  async up(db) {
    await db.schema.createIndex('events_at').on('events').column('at').execute();
  },
};
