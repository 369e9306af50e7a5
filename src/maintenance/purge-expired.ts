import type { Kysely } from 'kysely';
import { idempotencyWindowMs } from '../api-keys/idempotent-requests.js';
import { purgeRateLimits } from '../rate-limits/rate-limits.js';
import type { Database } from '../storage/schema.js';
import { webhookRetryWindowMs } from '../webhooks/webhook-events.js';

/** How long ended links are kept, so a late click can still be told "already used" rather than "not valid". */
const endedLinkRetentionMs = 24 * 3600_000;

/**
 * Old audit events are deleted this many at a time: the first purge after a long retention is
 * shortened may meet millions, and one short statement at a time never holds the SQLite write lock
 * long enough to stall the server or a CLI beside it.
 */
const eventsPerDelete = 5000;

/** Rate-limit counters outlive every window, bucket refill and password wait by this much at least. */
const counterRetentionMs = 2 * 3600_000;

export interface RetentionSettings {
  sessionIdleTimeoutMs: number;
  /** `LIMIT_EMAIL_COOLDOWN`: a workspace may set a longer one of its own. */
  emailCooldownMs: number;
  /** `EVENTS_RETENTION`: the audit log holds email and IP addresses, kept no longer than this. */
  eventsRetentionMs: number;
}

/** Deletes what can no longer be used: expired sessions and the notes of ended ones, old sign-in and reset links, expired app tokens, retired keys, the admin API's old idempotent answers, stale rate-limit counters, old audit events, finished webhook deliveries and old attempts. */
export async function purgeExpiredRecords(db: Kysely<Database>, now: number, retention: RetentionSettings): Promise<void> {
  await db
    .deleteFrom('sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', now - retention.sessionIdleTimeoutMs)]))
    .execute();
  // Notes of why a session ended from elsewhere, once that session would have expired anyway.
  await db.deleteFrom('ended_sessions').where('expires_at', '<=', now).execute();
  await db.deleteFrom('magic_links').where('expires_at', '<=', now - endedLinkRetentionMs).execute();
  // issue 13 item 5: reset links were never deleted; they go a day after expiring, as sign-in links do.
  await db.deleteFrom('password_resets').where('expires_at', '<=', now - endedLinkRetentionMs).execute();
  // What apps were issued (codes, tokens, grants, interactions) once expired, and signing keys
  // once nothing they signed can still be checked.
  await db.deleteFrom('oidc_payloads').where('expires_at', '<=', now).execute();
  await db.deleteFrom('signing_keys').where('retire_at', '<=', now).execute();
  // The admin API's stored answers, once their Idempotency-Key may be used afresh.
  await db.deleteFrom('idempotent_requests').where('created_at', '<=', now - idempotencyWindowMs).execute();
  // Webhook deliveries once finished a day (their payload holds a client's address; the record of
  // attempts keeps what `webhook deliveries` shows), and that record as long as the audit log.
  await db.deleteFrom('webhook_deliveries').where('state', '!=', 'pending').where('finished_at', '<=', now - webhookRetryWindowMs).execute();
  await db.deleteFrom('webhook_attempts').where('at', '<', now - retention.eventsRetentionMs).execute();
  await purgeRateLimits(db, now, await rateLimitRetentionMs(db, retention.emailCooldownMs));
  await purgeOldEvents(db, now - retention.eventsRetentionMs);
}

/**
 * A counter goes once nothing it holds can refuse a request: two hours covers every window, but a
 * cooldown between emails may be set longer (`--limit-email-cooldown 6h`), and forgetting the
 * counter early would cut it short.
 */
async function rateLimitRetentionMs(db: Kysely<Database>, defaultCooldownMs: number): Promise<number> {
  const row = await db.selectFrom('workspaces').select((eb) => eb.fn.max('limit_email_cooldown_ms').as('longest')).executeTakeFirst();
  return Math.max(counterRetentionMs, defaultCooldownMs, Number(row?.longest ?? 0));
}

async function purgeOldEvents(db: Kysely<Database>, cutoff: number): Promise<void> {
  for (;;) {
    const result = await db
      .deleteFrom('events')
      .where('id', 'in', (eb) => eb.selectFrom('events').select('id').where('at', '<', cutoff).limit(eventsPerDelete))
      .executeTakeFirst();
    if (Number(result.numDeletedRows) < eventsPerDelete) return;
  }
}
