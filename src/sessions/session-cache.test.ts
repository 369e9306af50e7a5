import { describe, expect, it } from 'vitest';
import { SessionCache } from './session-cache.js';

describe('the session cache', () => {
  /** A cache over a database whose "another connection committed" number the test moves. */
  function cacheOver() {
    let version: number | null = 1;
    const cache = new SessionCache<{ email: string }>(() => version);
    const read = (idHash: string, clientId: string, email: string, workspaceId = 'w1') => {
      const ticket = cache.ticket();
      cache.remember(idHash, workspaceId, clientId, { email }, ticket);
    };
    return { cache, read, otherConnectionCommits: () => (version = (version ?? 0) + 1), inOwnTransaction: (inside: boolean) => (version = inside ? null : 1) };
  }

  it('answers from memory for as long as no other connection commits, then reads everything again', () => {
    const { cache, read, otherConnectionCommits } = cacheOver();
    expect(cache.get('s1', 'w1')).toBeUndefined();
    read('s1', 'c1', 'a@example.com');
    read('s2', 'c2', 'b@example.com');
    expect(cache.get('s1', 'w1')).toEqual({ email: 'a@example.com' });
    otherConnectionCommits();
    expect(cache.get('s1', 'w1')).toBeUndefined();
    expect(cache.get('s2', 'w1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps nothing read across another connection’s commit', () => {
    const { cache, otherConnectionCommits } = cacheOver();
    cache.get('s1', 'w1');
    const ticket = cache.ticket();
    otherConnectionCommits();
    cache.get('s2', 'w1');
    cache.remember('s1', 'w1', 'c1', { email: 'a@example.com' }, ticket);
    expect(cache.get('s1', 'w1')).toBeUndefined();
  });

  it('answers nothing while its own transaction hides other connections’ commits, nor where the database cannot tell', () => {
    const { cache, read, inOwnTransaction } = cacheOver();
    cache.get('s1', 'w1');
    read('s1', 'c1', 'a@example.com');
    inOwnTransaction(true);
    expect(cache.get('s1', 'w1')).toBeUndefined();

    const blind = new SessionCache<{ email: string }>(undefined);
    expect(blind.enabled).toBe(false);
    blind.remember('s1', 'w1', 'c1', { email: 'a@example.com' }, blind.ticket());
    expect(blind.get('s1', 'w1')).toBeUndefined();
  });

  it('never answers for another workspace', () => {
    const { cache, read } = cacheOver();
    cache.get('s1', 'w1');
    read('s1', 'c1', 'a@example.com');
    expect(cache.get('s1', 'w2')).toBeUndefined();
  });

  // Issue 13 item 1: one expired cookie used to empty the whole cache.
  it('forgets only the session or client that ended here, and keeps every other', () => {
    const { cache, read } = cacheOver();
    cache.get('s1', 'w1');
    read('s1', 'c1', 'a@example.com');
    read('s2', 'c1', 'a@example.com');
    read('s3', 'c2', 'b@example.com');
    read('s4', 'c3', 'c@example.com');
    cache.forgetSession('s4');
    expect(cache.get('s4', 'w1')).toBeUndefined();
    expect(cache.get('s1', 'w1')).toBeDefined();
    cache.forgetClient('c1');
    expect(cache.get('s1', 'w1')).toBeUndefined();
    expect(cache.get('s2', 'w1')).toBeUndefined();
    expect(cache.get('s3', 'w1')).toEqual({ email: 'b@example.com' });
  });

  it('keeps no read that was under way when its session or client ended, and keeps the others', () => {
    const { cache } = cacheOver();
    cache.get('s1', 'w1');
    const [t1, t2, t3] = [cache.ticket(), cache.ticket(), cache.ticket()];
    cache.forgetSession('s1');
    cache.forgetClient('c2');
    cache.remember('s1', 'w1', 'c1', { email: 'a@example.com' }, t1);
    cache.remember('s2', 'w1', 'c2', { email: 'b@example.com' }, t2);
    cache.remember('s3', 'w1', 'c3', { email: 'c@example.com' }, t3);
    expect(cache.get('s1', 'w1')).toBeUndefined();
    expect(cache.get('s2', 'w1')).toBeUndefined();
    expect(cache.get('s3', 'w1')).toEqual({ email: 'c@example.com' });
  });

  it('keeps no read under way when too many endings came since to tell which', () => {
    const { cache } = cacheOver();
    cache.get('s1', 'w1');
    const ticket = cache.ticket();
    for (let index = 0; index < 1000; index += 1) cache.forgetSession(`other${index}`);
    cache.remember('s1', 'w1', 'c1', { email: 'a@example.com' }, ticket);
    expect(cache.get('s1', 'w1')).toBeUndefined();
  });

  it('drops the oldest entries beyond its bound', () => {
    const { cache, read } = cacheOver();
    cache.get('s0', 'w1');
    for (let index = 0; index <= 50_000; index += 1) read(`s${index}`, `c${index}`, 'a@example.com');
    expect(cache.size).toBe(50_000);
    expect(cache.get('s0', 'w1')).toBeUndefined();
    expect(cache.get('s50000', 'w1')).toBeDefined();
  });
});
