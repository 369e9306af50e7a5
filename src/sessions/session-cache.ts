/**
 * Sessions read from the database, kept in this process for as long as the database says nothing
 * changed. Every signed-in request checks its session, and reading the row was the largest cost of
 * `/api/me`; but an ended session must be refused by the very next request, on every instance and
 * after a CLI command (OWASP ASVS 5.0 V7.4, issue 13 item 1), so no entry is trusted for a time:
 *
 * - news from other processes: on every look-up the database is asked whether another connection
 *   has committed since the entries were read (SQLite's `PRAGMA data_version`, a couple of
 *   microseconds), and if one has, every entry is read again. Where the database cannot tell
 *   (PostgreSQL, where other instances write), nothing is cached: each request reads its row,
 *   one primary-key look-up.
 * - this process's own changes do not show in that number, so whatever ends sessions here tells
 *   the cache which session or client it ended (`forgetSession`, `forgetClient`), right after its
 *   statement has run. Until a transaction commits, SQLite's single connection makes every other
 *   read of this process wait for it, so no read sees the session alive in between; a read that
 *   was already under way is not kept (`remember` checks the endings since its ticket).
 *
 * Expiry and idle time are checked against the clock on every request, cached or not. Anything
 * else in this process that changes what an entry holds (a client's email or name) must forget
 * that client too.
 */

/** More live sessions than this and the oldest are dropped, so the cache cannot grow without bound. */
const maxEntries = 50_000;

/** How many recent endings are kept to judge reads still under way (which take microseconds). */
const endingsKept = 256;

/**
 * A number that changes whenever another connection commits, read anew at each call; null when it
 * cannot be told now. Absent where the database cannot tell at all (DatabaseHandle).
 */
export type ExternalChangeVersion = () => number | null;

/** Taken just before reading a session from the database. */
export interface ReadTicket {
  readonly version: number | null;
  readonly endings: number;
}

interface Entry<Row> {
  row: Row;
  workspaceId: string;
  clientId: string;
}

export class SessionCache<Row extends object = object> {
  readonly #entries = new Map<string, Entry<Row>>();
  readonly #byClient = new Map<string, Set<string>>();
  /** The external version the entries were read at. */
  #version: number | null = null;
  /** How many sessions or clients were forgotten so far; the latest few, to judge reads under way. */
  #endings = 0;
  #recentEndings: { idHash?: string; clientId?: string }[] = [];

  constructor(private readonly externalChangeVersion: ExternalChangeVersion | undefined) {}

  /** Whether anything is cached at all: only where the database can say that nothing changed. */
  get enabled(): boolean {
    return this.externalChangeVersion !== undefined;
  }

  /** The cached row, if no other connection has written since it was read and nothing here ended it. */
  get(idHash: string, workspaceId: string): Row | undefined {
    if (!this.externalChangeVersion) return undefined;
    const version = this.externalChangeVersion();
    if (version === null) return undefined;
    if (version !== this.#version) {
      this.#clear();
      this.#version = version;
      return undefined;
    }
    const entry = this.#entries.get(idHash);
    if (!entry || entry.workspaceId !== workspaceId) return undefined;
    return entry.row;
  }

  /** Taken just before reading a session from the database. */
  ticket(): ReadTicket {
    return { version: this.externalChangeVersion?.() ?? null, endings: this.#endings };
  }

  /** Keeps a row read after `ticket`, unless the database changed or this session or client ended since. */
  remember(idHash: string, workspaceId: string, clientId: string, row: Row, ticket: ReadTicket): void {
    if (ticket.version === null || ticket.version !== this.#version) return;
    if (this.#endedSince(ticket, idHash, clientId)) return;
    if (this.#entries.size >= maxEntries) this.#delete(this.#entries.keys().next().value!);
    this.#delete(idHash);
    this.#entries.set(idHash, { row, workspaceId, clientId });
    let sessions = this.#byClient.get(clientId);
    if (!sessions) this.#byClient.set(clientId, (sessions = new Set()));
    sessions.add(idHash);
  }

  /** One session ended here (sign-out, expiry): only its entry goes. */
  forgetSession(idHash: string): void {
    this.#noteEnding({ idHash });
    this.#delete(idHash);
  }

  /** Every session of a client ended, or the client changed (disabled, password set or reset). */
  forgetClient(clientId: string): void {
    this.#noteEnding({ clientId });
    for (const idHash of [...(this.#byClient.get(clientId) ?? [])]) this.#delete(idHash);
  }

  get size(): number {
    return this.#entries.size;
  }

  #noteEnding(ending: { idHash?: string; clientId?: string }): void {
    this.#endings += 1;
    this.#recentEndings.push(ending);
    if (this.#recentEndings.length > endingsKept) this.#recentEndings = this.#recentEndings.slice(-endingsKept / 2);
  }

  #endedSince(ticket: ReadTicket, idHash: string, clientId: string): boolean {
    const since = this.#endings - ticket.endings;
    if (since === 0) return false;
    // Too many endings to tell which: keep nothing, the next request reads again.
    if (since > this.#recentEndings.length) return true;
    return this.#recentEndings.slice(-since).some((ending) => ending.idHash === idHash || ending.clientId === clientId);
  }

  #delete(idHash: string): void {
    const entry = this.#entries.get(idHash);
    if (!entry) return;
    this.#entries.delete(idHash);
    const sessions = this.#byClient.get(entry.clientId);
    sessions?.delete(idHash);
    if (sessions?.size === 0) this.#byClient.delete(entry.clientId);
  }

  #clear(): void {
    this.#entries.clear();
    this.#byClient.clear();
  }
}
