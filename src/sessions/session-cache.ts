/**
 * How long a session read from the database is trusted before it is read again. Every signed-in
 * request checks its session; reading the same row thousands of times a second was the largest
 * cost of `/api/me`. Expiry and idle time are still checked on every request against the clock;
 * what the second delays is news from elsewhere: a session ended, or a client disabled, through
 * another instance or the CLI reaches this one within a second (SECURITY.md). Sessions ended in
 * this process are forgotten at once (`noteSessionsEnded`).
 */
export const sessionCacheTtlMs = 1000;

/** More live sessions than this and the cache starts over, so it cannot grow without bound. */
const maxEntries = 50_000;

let sessionsEnded = 0;

/**
 * Called wherever this process ends sessions (sign-out, sign out everywhere, password change or
 * reset, disabling a client), before and after the change commits: every cached session is then
 * read again, so none outlives its row here, even one read while the change was in flight.
 */
export function noteSessionsEnded(): void {
  sessionsEnded += 1;
}

/** When a read began: an entry stored from it counts only if no session ended since. */
export interface ReadTicket {
  readonly endedCount: number;
  readonly startedAt: number;
}

export class SessionCache<Row extends object> {
  readonly #entries = new Map<string, { row: Row; workspaceId: string; ticket: ReadTicket }>();

  constructor(private readonly monotonicNow: () => number = () => performance.now()) {}

  /** Taken just before reading a session from the database. */
  ticket(): ReadTicket {
    return { endedCount: sessionsEnded, startedAt: this.monotonicNow() };
  }

  get(idHash: string, workspaceId: string): Row | undefined {
    const entry = this.#entries.get(idHash);
    if (!entry || entry.workspaceId !== workspaceId) return undefined;
    if (entry.ticket.endedCount !== sessionsEnded || this.monotonicNow() - entry.ticket.startedAt >= sessionCacheTtlMs) {
      this.#entries.delete(idHash);
      return undefined;
    }
    return entry.row;
  }

  remember(idHash: string, workspaceId: string, row: Row, ticket: ReadTicket): void {
    if (ticket.endedCount !== sessionsEnded) return;
    if (this.#entries.size >= maxEntries) this.#entries.clear();
    this.#entries.set(idHash, { row, workspaceId, ticket });
  }
}
