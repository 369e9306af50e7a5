import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseWithWorkspace, testDialects } from '../../../test/helpers/databases.js';
import { systemClock } from '../../shared/clock.js';
import { loadSigningKeys, readSigningKeysVersion, rotateSigningKeys } from './signing-keys.js';

describe.each(testDialects)('signing keys on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  // Found by test/oidc-scale-out.test.ts: two instances asked for a new workspace's keys at once and
  // each stored a key of its own; for up to a second each signed with its own and published only
  // it, so an ID token from one failed against the other's JWKS (and a library that caches the
  // JWKS keeps failing until it fetches again).
  it('makes one first key of a workspace however many instances ask at once', async () => {
    const { handle, cleanup } = await openTestDatabaseWithWorkspace(dialect);
    cleanups.push(cleanup);
    const loaded = await Promise.all([1, 2, 3].map(() => loadSigningKeys(handle.db, systemClock, 'w')));
    const kids = loaded.map((keys) => keys.map((key) => key.kid));
    expect(kids[0]).toHaveLength(1);
    expect(kids).toEqual([kids[0], kids[0], kids[0]]);
    expect(await readSigningKeysVersion(handle.db, systemClock, 'w')).toBe(kids[0]![0]);

    // A rotation adds a key that signs first; the first stays published.
    const rotated = await rotateSigningKeys(handle.db, systemClock, 'w', 60_000);
    expect((await loadSigningKeys(handle.db, systemClock, 'w')).map((key) => key.kid)).toEqual([rotated.kid, kids[0]![0]]);
  });
});
