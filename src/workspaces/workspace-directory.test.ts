import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialects } from '../../test/helpers/databases.js';
import { systemClock } from '../shared/clock.js';
import { openDatabase } from '../storage/database.js';
import { WorkspaceDirectory, workspaceDirectoryTtlMs } from './workspace-directory.js';
import { createWorkspace, updateWorkspace } from './workspaces.js';

describe.each(testDialects)('the workspace directory of a running server, on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setUp() {
    const database = await createTestDatabase(dialect);
    cleanups.push(() => database.drop());
    const { db, close } = await openDatabase(database.url);
    cleanups.push(close);
    let now = 0;
    const directory = new WorkspaceDirectory(db, () => now);
    return { db, directory, advance: (ms: number) => (now += ms) };
  }

  it('sees a change made elsewhere (the CLI) within its lifetime, by host and by id, and a forgotten one at once', async () => {
    const { db, directory, advance } = await setUp();
    await createWorkspace(db, systemClock, { name: 'Acme', url: 'https://acme.example', slug: 'acme' });
    expect((await directory.findByHost('acme.example'))?.name).toBe('Acme');

    await updateWorkspace(db, 'acme', { name: 'Acme Studio' });
    advance(workspaceDirectoryTtlMs - 1);
    expect((await directory.findByHost('acme.example'))?.name).toBe('Acme');
    advance(1);
    expect((await directory.findByHost('acme.example'))?.name).toBe('Acme Studio');

    const acme = await directory.findByHost('acme.example');
    expect((await directory.findById(acme!.id))?.name).toBe('Acme Studio');
    await updateWorkspace(db, 'acme', { name: 'Acme Studios' });
    expect((await directory.findById(acme!.id))?.name).toBe('Acme Studio');
    advance(workspaceDirectoryTtlMs);
    expect((await directory.findById(acme!.id))?.name).toBe('Acme Studios');

    await updateWorkspace(db, 'acme', { url: 'https://portal.acme.example' });
    directory.forget();
    expect(await directory.findByHost('acme.example')).toBeNull();
    expect((await directory.findByHost('portal.acme.example'))?.slug).toBe('acme');
  });

  it('answers an unknown host from memory until its lifetime is over, then finds a workspace created since', async () => {
    const { db, directory, advance } = await setUp();
    expect(await directory.findByHost('new.example')).toBeNull();
    await createWorkspace(db, systemClock, { name: 'New', url: 'https://new.example' });
    expect(await directory.findByHost('new.example')).toBeNull();
    advance(workspaceDirectoryTtlMs);
    expect((await directory.findByHost('new.example'))?.name).toBe('New');
  });
});
