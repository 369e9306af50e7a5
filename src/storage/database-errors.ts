/**
 * What database errors mean, in either dialect: the one place that knows SQLite's and
 * PostgreSQL's error codes.
 */

/** True when a database error is a unique-key violation. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  // SQLite: SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY; PostgreSQL: 23505 unique_violation.
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

// Connection refused or dropped (the server is down or restarting), and PostgreSQL's admin shutdown
// and connection-failure classes (57P0x, 08xxx).
const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08006', '08001', '08003']);

// SQLite's busy or unreadable file. better-sqlite3 reports extended codes (SQLITE_BUSY_SNAPSHOT,
// SQLITE_BUSY_RECOVERY, SQLITE_IOERR_SHORT_READ, …): each family counts, not only its plain code.
// SQLITE_LOCKED is left out: with one connection and no shared cache it means a statement of this
// connection conflicts with another of its own, a bug that waiting would not cure.
const unavailableSqliteCodes = /^SQLITE_(BUSY|CANTOPEN|IOERR)(_|$)/;

/** True when an error means "the database cannot be reached right now" rather than a bug. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && (unavailableCodes.has(code) || unavailableSqliteCodes.test(code))) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}
