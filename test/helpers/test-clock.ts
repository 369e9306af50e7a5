import type { Clock } from '../../src/shared/clock.js';

/**
 * A clock tests move by hand, so expiry is tested without sleeping. It follows real time plus what
 * was advanced; a `frozen` one moves only when advanced, for tests whose margins are seconds and
 * must not depend on how fast a loaded machine answers.
 */
export class TestClock implements Clock {
  private offsetMs = 0;
  private readonly frozenAt: number | null;

  constructor(options: { frozen?: boolean } = {}) {
    this.frozenAt = options.frozen ? Date.now() : null;
  }

  now(): number {
    return (this.frozenAt ?? Date.now()) + this.offsetMs;
  }

  advance(milliseconds: number): void {
    this.offsetMs += milliseconds;
  }
}
