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
  return handle.withMigrationLock(async (db) => {
    const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
    if (error) {
      // The cause is what an operator can act on ("permission denied for schema public"); one line of it.
      const failed = results?.find((result) => result.status === 'Error')?.migrationName;
      const cause = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      throw new Error(`The database schema could not be brought up to date${failed ? ` (migration ${failed})` : ''}: ${cause}`, { cause: error });
    }
    return { applied: (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName) };
  });
}
