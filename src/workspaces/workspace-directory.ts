import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import { findWorkspaceByHost, type Workspace } from './workspaces.js';

/** How long a looked-up workspace (or the absence of one) is trusted before it is read again. */
export const workspaceDirectoryTtlMs = 1000;

/** More distinct hosts than this and the directory starts over, so made-up `Host` values cannot grow it without bound. */
const maxEntries = 10_000;

/**
 * The workspace of every request, by host, kept for a second. Every request needs it and it
 * changes only through `portico workspace update`, so a running server sees such a change within
 * a second instead of reading the same row on every request. Unknown hosts are kept too: a flood of
 * them costs one read a second each.
 */
export class WorkspaceDirectory {
  readonly #entries = new Map<string, { workspace: Workspace | null; readAt: number }>();

  constructor(
    private readonly db: Kysely<Database>,
    /** Monotonic milliseconds; the real clock unless a test drives it. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  async findByHost(host: string): Promise<Workspace | null> {
    const now = this.now();
    const entry = this.#entries.get(host);
    if (entry && now - entry.readAt < workspaceDirectoryTtlMs) return entry.workspace;
    const workspace = await findWorkspaceByHost(this.db, host);
    if (this.#entries.size >= maxEntries) this.#entries.clear();
    this.#entries.set(host, { workspace, readAt: now });
    return workspace;
  }

  /** Reads every workspace afresh on its next request (after a change made in this process). */
  forget(): void {
    this.#entries.clear();
  }
}
