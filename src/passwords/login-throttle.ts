import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/** Failures allowed before each further attempt on the account must wait. */
const freeFailures = 5;
const firstDelayMs = 30_000;
const maxDelayMs = 15 * 60_000;
/** A quiet hour forgets earlier failures. */
const failureMemoryMs = 3_600_000;

/**
 * Per-account throttling of password attempts: after 5 failures each attempt waits 30 s, then 1 m,
 * 2 m … up to 15 m. Never a permanent lockout, which anyone knowing an email could abuse. Kept per
 * email address whether or not it is a client, so the throttle itself tells nothing (NIST SP
 * 800-63B-4 § 3.2.2), and in the database so it holds across instances.
 */
export function loginThrottleKey(workspaceId: string, normalizedEmail: string): string {
  return `login-failures:${workspaceId}:${normalizedEmail}`;
}

/** How long until the next attempt on this account is allowed; 0 when it is allowed now. */
export async function loginRetryAfterMs(db: Kysely<Database>, now: number, key: string): Promise<number> {
  const row = await db.selectFrom('rate_limits').select(['hits', 'last_hit_at']).where('key', '=', key).executeTakeFirst();
  if (!row || row.hits < freeFailures || row.last_hit_at <= now - failureMemoryMs) return 0;
  const delay = Math.min(maxDelayMs, firstDelayMs * 2 ** (row.hits - freeFailures));
  return Math.max(0, row.last_hit_at + delay - now);
}

export async function recordLoginFailure(db: Kysely<Database>, now: number, key: string): Promise<void> {
  await db
    .insertInto('rate_limits')
    .values({ key, window_start: now, hits: 1, last_hit_at: now, last_hit_id: '' })
    .onConflict((conflict) =>
      conflict.column('key').doUpdateSet((eb) => ({
        hits: eb.case().when('rate_limits.last_hit_at', '<=', now - failureMemoryMs).then(1).else(eb('rate_limits.hits', '+', 1)).end(),
        last_hit_at: now,
      })),
    )
    .execute();
}

export async function clearLoginFailures(db: Kysely<Database>, key: string): Promise<void> {
  await db.deleteFrom('rate_limits').where('key', '=', key).execute();
}
