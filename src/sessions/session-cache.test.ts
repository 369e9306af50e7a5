import { describe, expect, it } from 'vitest';
import { noteSessionsEnded, SessionCache, sessionCacheTtlMs } from './session-cache.js';

describe('the session cache', () => {
  function cacheAt() {
    let now = 0;
    return { cache: new SessionCache<{ email: string }>(() => now), advance: (ms: number) => (now += ms) };
  }

  it('answers from memory for its lifetime, then reads again', () => {
    const { cache, advance } = cacheAt();
    cache.remember('s1', 'w1', { email: 'a@example.com' }, cache.ticket());
    advance(sessionCacheTtlMs - 1);
    expect(cache.get('s1', 'w1')).toEqual({ email: 'a@example.com' });
    advance(1);
    expect(cache.get('s1', 'w1')).toBeUndefined();
  });

  it('never answers for another workspace', () => {
    const { cache } = cacheAt();
    cache.remember('s1', 'w1', { email: 'a@example.com' }, cache.ticket());
    expect(cache.get('s1', 'w2')).toBeUndefined();
  });

  it('forgets everything once a session ends in this process, and keeps nothing read while it ended', () => {
    const { cache } = cacheAt();
    cache.remember('s1', 'w1', { email: 'a@example.com' }, cache.ticket());
    noteSessionsEnded();
    expect(cache.get('s1', 'w1')).toBeUndefined();

    const readBefore = cache.ticket();
    noteSessionsEnded();
    cache.remember('s2', 'w1', { email: 'b@example.com' }, readBefore);
    expect(cache.get('s2', 'w1')).toBeUndefined();
  });
});
