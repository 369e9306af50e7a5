import type { Clock } from '../../src/shared/clock.js';

/** A clock tests move by hand, so expiry is tested without sleeping. */
export class TestClock implements Clock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(milliseconds: number): void {
    this.offsetMs += milliseconds;
  }
}
