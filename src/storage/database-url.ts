/** Whether a `DATABASE_URL` names a database Portico can open: `sqlite:<path>` or `postgres://…`. */
export function isSupportedDatabaseUrl(url: string): boolean {
  return /^sqlite:.+/.test(url) || /^postgres(ql)?:\/\/.+/.test(url);
}

/** The database as the server's first line names it: a SQLite file's URL as it is, PostgreSQL by name (its URL may hold a password). */
export function describeDatabaseUrl(url: string): string {
  return url.startsWith('sqlite:') ? url : 'PostgreSQL';
}

/** Hides the password in a database URL before it is printed or logged. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}
