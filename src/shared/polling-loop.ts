/**
 * The run/wake/stop machinery of a worker that drains a table (the mail outbox, webhook
 * deliveries): one round at a time; the next after `pollIntervalMs`, or at once when a wake
 * arrived during the round or the round found a full batch. A wake during a round is never lost,
 * and `stop` waits for the round in hand.
 */

/** What a round sees of its loop. */
export interface PollingLoopState {
  /** Set by a wake that arrives during a round, or by the round on a full batch: run again at once. */
  wakeRequested: boolean;
  /** Set by `stop`: finish what is in hand and claim nothing more. */
  readonly stopped: boolean;
}

export interface PollingLoop {
  /** Runs a round now, or right after the one in hand. */
  wake(): void;
  /** Runs no further round and waits for the one in hand. */
  stop(): Promise<void>;
}

export interface PollingLoopOptions {
  pollIntervalMs: number;
  /** A round that threw: the loop goes on at the next poll. */
  onError(error: unknown): void;
}

/** Starts the loop with a first round at once. */
export function startPollingLoop(round: (state: PollingLoopState) => Promise<void>, options: PollingLoopOptions): PollingLoop {
  const state = { wakeRequested: false, stopped: false };
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;

  function run(): void {
    if (state.stopped) return;
    if (running) {
      state.wakeRequested = true;
      return;
    }
    if (timer) clearTimeout(timer);
    state.wakeRequested = false;
    running = round(state)
      .catch((error: unknown) => options.onError(error))
      .finally(() => {
        running = null;
        if (!state.stopped) timer = setTimeout(run, state.wakeRequested ? 0 : options.pollIntervalMs);
      });
  }

  run();
  return {
    wake: run,
    async stop() {
      state.stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
