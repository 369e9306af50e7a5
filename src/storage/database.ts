import type { DatabaseHandle } from './dialects/dialect.js';
import { openSqliteDatabase } from './dialects/sqlite/open-sqlite-database.js';
import { migrateToLatest } from './migrate.js';

export type { DatabaseHandle } from './dialects/dialect.js';

/**
 * Connects to the database named by `DATABASE_URL`, as it is. The PostgreSQL driver is loaded only
 * when it is used (~16 MB a SQLite server would carry for nothing).
 */
export async function connectDatabase(url: string, poolSize?: number): Promise<DatabaseHandle> {
  if (url.startsWith('sqlite:')) return openSqliteDatabase(url);
  const { openPostgresDatabase } = await import('./dialects/postgres/open-postgres-database.js');
  return openPostgresDatabase(url, poolSize);
}

/** Connects to the database named by `DATABASE_URL` and brings its schema up to date. */
export async function openDatabase(url: string, poolSize?: number): Promise<DatabaseHandle> {
  const handle = await connectDatabase(url, poolSize);
  try {
    await migrateToLatest(handle);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
