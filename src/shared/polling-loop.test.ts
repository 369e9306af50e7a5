import { describe, expect, it, vi } from 'vitest';
import { startPollingLoop, type PollingLoopState } from './polling-loop.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/** A round that stays in hand until released, counting how often it ran. */
function heldRounds() {
  let release: (() => void) | null = null;
  const rounds = { count: 0 };
  const round = async (_state: PollingLoopState) => {
    rounds.count += 1;
    await new Promise<void>((resolve) => (release = resolve));
  };
  return { rounds, round, release: () => release?.() };
}

describe('startPollingLoop', () => {
  it('runs a round at once, and a wake that arrives during it runs the next one at once, not after the interval', async () => {
    const held = heldRounds();
    const loop = startPollingLoop(held.round, { pollIntervalMs: 60_000, onError: () => {} });
    expect(held.rounds.count).toBe(1);
    loop.wake();
    loop.wake();
    expect(held.rounds.count).toBe(1);
    held.release();
    // Two wakes while busy make one more round, not two, and not a minute later.
    await vi.waitFor(() => expect(held.rounds.count).toBe(2), { timeout: 5_000 });
    held.release();
    await tick();
    expect(held.rounds.count).toBe(2);
    await loop.stop();
  });

  it('waits after a quiet round, and a round asking for more runs again at once', async () => {
    let count = 0;
    const loop = startPollingLoop(
      async (state) => {
        count += 1;
        if (count < 3) state.wakeRequested = true;
      },
      { pollIntervalMs: 60_000, onError: () => {} },
    );
    await vi.waitFor(() => expect(count).toBe(3), { timeout: 5_000 });
    await tick();
    expect(count).toBe(3);
    await loop.stop();
  });

  it('stop waits for the round in hand, which sees it, and no round runs after', async () => {
    const held = heldRounds();
    let sawStop = false;
    const loop = startPollingLoop(
      async (state) => {
        await held.round(state);
        sawStop = state.stopped;
      },
      { pollIntervalMs: 1, onError: () => {} },
    );
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await tick();
    expect(stopped).toBe(false);
    held.release();
    await stopping;
    expect(sawStop).toBe(true);
    loop.wake();
    await tick();
    expect(held.rounds.count).toBe(1);
  });

  it('a round that throws is reported and the loop goes on at the next poll', async () => {
    const errors: unknown[] = [];
    let count = 0;
    const loop = startPollingLoop(
      async () => {
        count += 1;
        if (count === 1) throw new Error('the table could not be read');
      },
      { pollIntervalMs: 1, onError: (error) => errors.push(error) },
    );
    await vi.waitFor(() => expect(count).toBeGreaterThan(1), { timeout: 5_000 });
    expect(errors).toEqual([new Error('the table could not be read')]);
    await loop.stop();
  });
});
