import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, openTestDatabaseWithWorkspace, testDialects } from '../../test/helpers/databases.js';
import { TestClock } from '../../test/helpers/test-clock.js';
import { openDatabase, type DatabaseHandle } from '../storage/database.js';
import { purgeExpiredRecords } from './purge-expired.js';

const day = 24 * 3600_000;

describe.each(testDialects)('purging expired records on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('deletes dead sessions, day-old links and stale counters, and keeps the rest', async () => {
    const database = await createTestDatabase(dialect);
    cleanups.push(() => database.drop());
    const handle: DatabaseHandle = await openDatabase(database.url);
    cleanups.push(() => handle.close());
    const { db } = handle;
    const now = Date.now();
    await db.insertInto('workspaces').values({ id: 'w', slug: 'w', name: 'W', url: 'http://w.test', host: 'w.test', magic_link_ttl_ms: 900_000, mail_from: null, created_at: now }).execute();
    await db.insertInto('clients').values({ id: 'c', workspace_id: 'w', email: 'c@example.com', email_normalized: 'c@example.com', name: '', password_hash: null, disabled_at: null, created_at: now }).execute();
    const session = { workspace_id: 'w', client_id: 'c', sign_in_method: 'magic_link', user_agent: '', ip: '', created_at: now };
    await db.insertInto('sessions').values([
      { ...session, id_hash: 'live', last_seen_at: now, expires_at: now + day },
      { ...session, id_hash: 'past-absolute', last_seen_at: now, expires_at: now - 1 },
      { ...session, id_hash: 'idle', last_seen_at: now - 8 * day, expires_at: now + day },
    ]).execute();
    const link = { workspace_id: 'w', client_id: 'c', browser_binding_hash: null, next_path: null, created_at: now, ended_at: null, end_reason: null };
    await db.insertInto('magic_links').values([
      { ...link, token_hash: 'fresh', expires_at: now + 60_000 },
      { ...link, token_hash: 'expired-an-hour-ago', expires_at: now - 3600_000 },
      { ...link, token_hash: 'expired-two-days-ago', expires_at: now - 2 * day },
    ]).execute();
    await db.insertInto('rate_limits').values([
      { key: 'recent', window_start: now, hits: 1, last_hit_at: now, last_hit_id: '' },
      { key: 'stale', window_start: now - 3 * 3600_000, hits: 1, last_hit_at: now - 3 * 3600_000, last_hit_id: '' },
    ]).execute();

    await purgeExpiredRecords(db, now, { sessionIdleTimeoutMs: 7 * day, emailCooldownMs: 60_000, eventsRetentionMs: 365 * day });

    expect((await db.selectFrom('sessions').select('id_hash').execute()).map((row) => row.id_hash)).toEqual(['live']);
    expect((await db.selectFrom('magic_links').select('token_hash').orderBy('token_hash').execute()).map((row) => row.token_hash)).toEqual(['expired-an-hour-ago', 'fresh']);
    expect((await db.selectFrom('rate_limits').select('key').execute()).map((row) => row.key)).toEqual(['recent']);
  });

  // issue 13 item 5: password_resets rows were never deleted, and the audit log (email and IP
  // addresses) grew for ever.
  it('deletes reset links a day after they expire, and audit events older than EVENTS_RETENTION', async () => {
    const database = await createTestDatabase(dialect);
    cleanups.push(() => database.drop());
    const handle: DatabaseHandle = await openDatabase(database.url);
    cleanups.push(() => handle.close());
    const { db } = handle;
    const clock = new TestClock();
    const start = clock.now();
    await db.insertInto('workspaces').values({ id: 'w', slug: 'w', name: 'W', url: 'http://w.test', host: 'w.test', magic_link_ttl_ms: 900_000, mail_from: null, created_at: start }).execute();
    await db.insertInto('clients').values({ id: 'c', workspace_id: 'w', email: 'c@example.com', email_normalized: 'c@example.com', name: '', password_hash: null, disabled_at: null, created_at: start }).execute();
    const reset = { workspace_id: 'w', client_id: 'c', created_at: start, expires_at: start + 30 * 60_000 };
    await db.insertInto('password_resets').values([
      { ...reset, token_hash: 'used', ended_at: start + 60_000 },
      { ...reset, token_hash: 'unused', ended_at: null },
    ]).execute();
    const event = { workspace_id: 'w', type: 'password.reset_requested', email: 'c@example.com', ip: '203.0.113.7', detail: null };
    // More old events than one delete takes, so the purge must go on until none is left.
    const oldEvents = Array.from({ length: 12_345 }, (_, index) => ({ ...event, at: start - index }));
    for (let offset = 0; offset < oldEvents.length; offset += 1000) await db.insertInto('events').values(oldEvents.slice(offset, offset + 1000)).execute();
    await db.insertInto('events').values([{ ...event, at: start + 10 * day, type: 'recent' }]).execute();
    const retention = { sessionIdleTimeoutMs: 7 * day, emailCooldownMs: 60_000, eventsRetentionMs: 30 * day };
    const resetHashes = async () => (await db.selectFrom('password_resets').select('token_hash').orderBy('token_hash').execute()).map((row) => row.token_hash);
    const eventCount = async () => Number((await db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    clock.advance(60 * 60_000);
    await purgeExpiredRecords(db, clock.now(), retention);
    expect(await resetHashes()).toEqual(['unused', 'used']);
    expect(await eventCount()).toBe(12_346);

    clock.advance(day);
    await purgeExpiredRecords(db, clock.now(), retention);
    expect(await resetHashes()).toEqual([]);
    expect(await eventCount()).toBe(12_346);

    // Events go once they are 30 days old, not a day sooner.
    clock.advance(28 * day);
    await purgeExpiredRecords(db, clock.now(), retention);
    expect(await eventCount()).toBe(12_346);
    clock.advance(2 * day);
    await purgeExpiredRecords(db, clock.now(), retention);
    expect((await db.selectFrom('events').select('type').execute()).map((row) => row.type)).toEqual(['recent']);
  });

  // Found with issue 13: counters went after two hours, cutting short a longer cooldown a workspace set.
  it('keeps an email counter for as long as the longest cooldown in force can refuse', async () => {
    const { handle, cleanup } = await openTestDatabaseWithWorkspace(dialect);
    cleanups.push(cleanup);
    const { db } = handle;
    const now = Date.now();
    await db.updateTable('workspaces').set({ limit_email_cooldown_ms: 6 * 3600_000 }).where('id', '=', 'w').execute();
    await db.insertInto('rate_limits').values([
      { key: 'email:w:five-hours-ago@example.com', window_start: now - 5 * 3600_000, hits: 1, last_hit_at: now - 5 * 3600_000, last_hit_id: '' },
      { key: 'email:w:seven-hours-ago@example.com', window_start: now - 7 * 3600_000, hits: 1, last_hit_at: now - 7 * 3600_000, last_hit_id: '' },
    ]).execute();

    await purgeExpiredRecords(db, now, { sessionIdleTimeoutMs: 7 * day, emailCooldownMs: 60_000, eventsRetentionMs: 365 * day });
    expect((await db.selectFrom('rate_limits').select('key').execute()).map((row) => row.key)).toEqual(['email:w:five-hours-ago@example.com']);

    // A longer LIMIT_EMAIL_COOLDOWN keeps counters as long.
    await db.insertInto('rate_limits').values({ key: 'email:w:seven-hours-ago@example.com', window_start: now - 7 * 3600_000, hits: 1, last_hit_at: now - 7 * 3600_000, last_hit_id: '' }).execute();
    await purgeExpiredRecords(db, now, { sessionIdleTimeoutMs: 7 * day, emailCooldownMs: 8 * 3600_000, eventsRetentionMs: 365 * day });
    expect((await db.selectFrom('rate_limits').select('key').orderBy('key').execute()).map((row) => row.key)).toEqual(['email:w:five-hours-ago@example.com', 'email:w:seven-hours-ago@example.com']);
  });

  it('deletes webhook deliveries a day after they finished (never a pending one) and attempts older than EVENTS_RETENTION', async () => {
    const { handle, cleanup } = await openTestDatabaseWithWorkspace(dialect);
    cleanups.push(cleanup);
    const { db } = handle;
    const now = Date.now();
    const delivery = { endpoint_id: 'whe_1', workspace_id: 'w', type: 'client.added', payload: '{}', attempts: 1, next_attempt_at: now - 3 * day, lease_until: null, give_up_at: now, created_at: now - 3 * day };
    await db.insertInto('webhook_deliveries').values([
      { ...delivery, event_id: 'msg_old_done', state: 'delivered', finished_at: now - 2 * day },
      { ...delivery, event_id: 'msg_recent_done', state: 'failed', finished_at: now - 3600_000 },
      { ...delivery, event_id: 'msg_pending', state: 'pending', finished_at: null },
    ]).execute();
    const attempt = { workspace_id: 'w', endpoint_id: 'whe_1', event_id: 'msg_old_done', type: 'client.added', attempt: 1, status_code: 200, error: null, delivered: 1 };
    await db.insertInto('webhook_attempts').values([{ ...attempt, at: now - 40 * day }, { ...attempt, at: now - 2 * day }]).execute();
    await purgeExpiredRecords(db, now, { sessionIdleTimeoutMs: 7 * day, emailCooldownMs: 60_000, eventsRetentionMs: 30 * day });
    expect((await db.selectFrom('webhook_deliveries').select('event_id').orderBy('event_id').execute()).map((row) => row.event_id)).toEqual(['msg_pending', 'msg_recent_done']);
    expect((await db.selectFrom('webhook_attempts').select('at').execute()).map((row) => Number(row.at))).toEqual([now - 2 * day]);
  });
});
