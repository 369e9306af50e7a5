import type { Kysely } from 'kysely';
import type { Config } from './config.js';
import { describeOutbox } from './mail/outbox.js';
import { PorticoMetrics } from './metrics/portico-metrics.js';
import { SessionCache } from './sessions/session-cache.js';
import { systemClock, type Clock } from './shared/clock.js';
import type { DatabaseHandle } from './storage/database.js';
import type { Database } from './storage/schema.js';
import { WorkspaceDirectory } from './workspaces/workspace-directory.js';

/** What the operations receive instead of reaching for globals: store, clock, settings, mail wake-up. */
export interface PorticoContext {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly config: Config;
  /** Tells the outbox worker that mail was queued, so it sends now instead of at its next poll. */
  readonly notifyMailQueued: () => void;
  /**
   * This process's cache of the database's sessions (session-cache.ts); whatever ends sessions
   * tells it. One per database handle: the database cannot tell a cache about a session ended
   * through another context on the same connection.
   */
  readonly sessionCache: SessionCache;
  /**
   * This process's directory of the database's workspaces (workspace-directory.ts), shared by the
   * HTTP server and the outbox worker. One per database handle, like the session cache.
   */
  readonly workspaces: WorkspaceDirectory;
  /**
   * This instance's metrics (metrics/portico-metrics.ts): counters that the doors and the worker
   * move, and the outbox gauges read from this database at each scrape.
   */
  readonly metrics: PorticoMetrics;
}

/** The context of one open database: its caches are made here, once per handle, and nowhere else. */
export function createPorticoContext(
  database: DatabaseHandle,
  config: Config,
  options: { clock?: Clock; notifyMailQueued?: () => void } = {},
): PorticoContext {
  const clock = options.clock ?? systemClock;
  return {
    db: database.db,
    clock,
    config,
    notifyMailQueued: options.notifyMailQueued ?? (() => {}),
    sessionCache: new SessionCache(database.externalChangeVersion),
    workspaces: new WorkspaceDirectory(database.db),
    metrics: new PorticoMetrics(() => describeOutbox(database.db, clock.now())),
  };
}
