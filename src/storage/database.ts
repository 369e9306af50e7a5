import type { DatabaseHandle } from './dialects/dialect.js';
import { openPostgresDatabase } from './dialects/postgres.js';
import { openSqliteDatabase } from './dialects/sqlite.js';
import { migrateToLatest } from './migrate.js';

export type { DatabaseHandle } from './dialects/dialect.js';

/** Connects to the database named by `DATABASE_URL`, as it is. */
export function connectDatabase(url: string, poolSize?: number): DatabaseHandle {
  return url.startsWith('sqlite:') ? openSqliteDatabase(url) : openPostgresDatabase(url, poolSize);
}

/** Connects to the database named by `DATABASE_URL` and brings its schema up to date. */
export async function openDatabase(url: string, poolSize?: number): Promise<DatabaseHandle> {
  const handle = connectDatabase(url, poolSize);
  try {
    await migrateToLatest(handle);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
