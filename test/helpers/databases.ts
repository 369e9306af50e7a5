import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { createPorticoContext, type PorticoContext } from '../../src/context.js';
import { openDatabase, type DatabaseHandle } from '../../src/storage/database.js';

export type DialectName = 'sqlite' | 'postgres';

/** Where the test PostgreSQL server is; `.ci/run` starts it on this machine. */
export const postgresAdminUrl = process.env.PORTICO_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The dialects behaviour tests loop over. */
export const testDialects: DialectName[] = ['sqlite', 'postgres'];

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of the dialect, dropped afterwards. */
export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const folder = mkdtempSync(join(tmpdir(), 'portico-test-'));
    return { url: `sqlite:${join(folder, 'portico.sqlite')}`, drop: async () => rmSync(folder, { recursive: true, force: true }) };
  }
  const name = `portico_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** The row of a workspace `id` (host `<id>.test`), for tests that write to a database directly. */
export function workspaceRow(id: string, magicLinkTtlMs = 60_000) {
  return {
    id, slug: id, name: id, url: `http://${id}.test`, host: `${id}.test`, magic_link_ttl_ms: magicLinkTtlMs, mail_from: null, created_at: 0,
    limit_email_cooldown_ms: null, limit_emails_per_hour: null, limit_ip_per_minute: null, limit_redemptions_per_5_minutes: null, limit_workspace_emails_per_hour: null,
  };
}

/**
 * A fresh database of the dialect, migrated and open, holding one workspace `w`. `cleanup` closes
 * and drops it.
 */
export async function openTestDatabaseWithWorkspace(dialect: DialectName): Promise<{ handle: DatabaseHandle; cleanup: () => Promise<void> }> {
  const created = await createTestDatabase(dialect);
  const handle = await openDatabase(created.url);
  await handle.db.insertInto('workspaces').values(workspaceRow('w')).execute();
  return {
    handle,
    async cleanup() {
      await handle.close();
      await created.drop();
    },
  };
}

/**
 * A context on a fresh database of the dialect holding workspace `w` and a client for each id
 * (`<id>@example.com`), at a clock that reads `now`: for tests of domain functions. `cleanup`
 * closes and drops it.
 */
export async function openTestContextWithClients(dialect: DialectName, clientIds: string[], now: number): Promise<{ context: PorticoContext; cleanup: () => Promise<void> }> {
  const { handle, cleanup } = await openTestDatabaseWithWorkspace(dialect);
  const client = (id: string) => ({ id, workspace_id: 'w', email: `${id}@example.com`, email_normalized: `${id}@example.com`, name: id, password_hash: null, disabled_at: null, created_at: 0 });
  await handle.db.insertInto('clients').values(clientIds.map(client)).execute();
  const parsed = loadConfig({});
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return { context: createPorticoContext(handle, parsed.config, { clock: { now: () => now } }), cleanup };
}
