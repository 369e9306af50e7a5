import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { DatabaseHandle } from './dialects/dialect.js';
import { migrations } from './migrations/index.js';

export interface MigrationReport {
  applied: string[];
}

/** Applies every migration not yet applied; safe to run again and from two instances at once. */
export async function migrateToLatest(handle: DatabaseHandle): Promise<MigrationReport> {
  const provider: MigrationProvider = {
    async getMigrations() {
      const bound: Record<string, Migration> = {};
      for (const [name, migration] of Object.entries(migrations)) {
        bound[name] = { up: (db) => migration.up(db, handle.capabilities) };
      }
      return bound;
    },
  };
  const migrator = new Migrator({ db: handle.db, provider });
  return handle.withMigrationLock(async () => {
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw new Error('The database schema could not be brought up to date', { cause: error });
    return { applied: (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName) };
  });
}
