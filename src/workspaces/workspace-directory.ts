import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import { findWorkspaceByHost, findWorkspaceById, type Workspace } from './workspaces.js';

/** How long a looked-up workspace (or the absence of one) is trusted before it is read again. */
export const workspaceDirectoryTtlMs = 1000;

/** More distinct hosts than this and the directory starts over, so made-up `Host` values cannot grow it without bound. */
const maxEntries = 10_000;

/**
 * The workspace of every request (by host) and of every mail the worker prepares (by id), kept for
 * a second. Both need it constantly and it changes only through `portico workspace update`, so a
 * running server sees such a change within a second instead of reading the same row each time.
 * Unknown hosts are kept too: a flood of them costs one read a second each.
 */
export class WorkspaceDirectory {
  readonly #byHost = new Map<string, { workspace: Workspace | null; readAt: number }>();
  readonly #byId = new Map<string, { workspace: Workspace | null; readAt: number }>();

  constructor(
    private readonly db: Kysely<Database>,
    /** Monotonic milliseconds; the real clock unless a test drives it. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  findByHost(host: string): Promise<Workspace | null> {
    return this.#find(this.#byHost, host, () => findWorkspaceByHost(this.db, host));
  }

  findById(id: string): Promise<Workspace | null> {
    return this.#find(this.#byId, id, () => findWorkspaceById(this.db, id));
  }

  /** Reads every workspace afresh on its next use (after a change made in this process). */
  forget(): void {
    this.#byHost.clear();
    this.#byId.clear();
  }

  async #find(entries: Map<string, { workspace: Workspace | null; readAt: number }>, key: string, read: () => Promise<Workspace | null>): Promise<Workspace | null> {
    const now = this.now();
    const entry = entries.get(key);
    if (entry && now - entry.readAt < workspaceDirectoryTtlMs) return entry.workspace;
    const workspace = await read();
    if (entries.size >= maxEntries) entries.clear();
    entries.set(key, { workspace, readAt: now });
    return workspace;
  }
}
