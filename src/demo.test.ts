import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, testDialects } from '../test/helpers/databases.js';
import { loadConfig } from './config.js';
import { createPorticoContext } from './context.js';
import { seedDemoWorkspace } from './demo.js';
import { openDatabase } from './storage/database.js';
import { listWorkspaces } from './workspaces/workspaces.js';

describe.each(testDialects)('seeding the demo workspace on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  // Regression: two instances started at once on an empty database both seeded "demo", and the
  // loser exited with "A workspace with the slug "demo" already exists"; on SQLite both also
  // applied the same migrations ("table workspaces already exists").
  it('migrates and seeds once when several instances start at once, and none of them fails', async () => {
    const database = await createTestDatabase(dialect);
    cleanups.push(() => database.drop());
    const handles = await Promise.all([1, 2, 3].map(() => openDatabase(database.url)));
    cleanups.push(async () => void (await Promise.all(handles.map((handle) => handle.close()))));
    const parsed = loadConfig({ DATABASE_URL: database.url });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const contexts = handles.map((handle) => createPorticoContext(handle, parsed.config));
    const seeded = await Promise.all(contexts.map((context, index) => seedDemoWorkspace(context, 3000 + index)));
    expect(seeded.filter((workspace) => workspace !== null)).toHaveLength(1);
    expect((await listWorkspaces(handles[0]!.db)).map((workspace) => workspace.slug)).toEqual(['demo']);
  });
});
