import type { Clock } from '../../src/shared/clock.js';

/**
 * A clock tests move by hand, so expiry is tested without sleeping. It follows real time plus what
 * was advanced; a `frozen` one moves only when advanced, for tests whose margins are seconds and
 * must not depend on how fast a loaded machine answers.
 *
 * `atTopOfHour` starts it one second past the next full hour. Rate limits count in fixed windows
 * (a minute, five minutes, an hour) that start on the hour, so a test that counts hits must start
 * at a window's start: run at 06:57, a test that advances three minutes would otherwise cross into
 * a fresh hourly window and see its limit reset (CI, stop 21).
 */
export class TestClock implements Clock {
  private offsetMs: number;
  private readonly frozenAt: number | null;

  constructor(options: { frozen?: boolean; atTopOfHour?: boolean } = {}) {
    const realNow = Date.now();
    this.frozenAt = options.frozen ? realNow : null;
    this.offsetMs = options.atTopOfHour ? 3_600_000 - (realNow % 3_600_000) + 1_000 : 0;
  }

  now(): number {
    return (this.frozenAt ?? Date.now()) + this.offsetMs;
  }

  advance(milliseconds: number): void {
    this.offsetMs += milliseconds;
  }
}
