import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { prepareQuery } from '../storage/prepared-query.js';
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
 * 800-63B-4 § 3.2.2), and in the database so it holds across instances. Every door that checks an
 * account's password (`/login`, the current password on `/account/password`) counts on this key.
 */
export function loginThrottleKey(workspaceId: string, normalizedEmail: string): string {
  return `login-failures:${workspaceId}:${normalizedEmail}`;
}

/** How long an attempt must wait after `failures` failures, the last one just now. */
function delayAfterFailures(failures: number): number {
  if (failures < freeFailures) return 0;
  return Math.min(maxDelayMs, firstDelayMs * 2 ** (failures - freeFailures));
}

/** The same schedule in SQL, as one CASE over a failure count: SQLite has no `power` everywhere. */
function delayAfterFailuresSql(failures: RawBuilder<unknown>) {
  const steps: RawBuilder<unknown>[] = [];
  for (let count = freeFailures; delayAfterFailures(count) < maxDelayMs; count += 1) {
    steps.push(sql`when ${failures} = ${sql.lit(count)} then ${sql.lit(delayAfterFailures(count))}`);
  }
  return sql<number>`(case when ${failures} < ${sql.lit(freeFailures)} then 0 ${sql.join(steps, sql` `)} else ${sql.lit(maxDelayMs)} end)`;
}

const failures = sql.ref('rate_limits.hits');
const lastFailureAt = sql.ref('rate_limits.last_hit_at');

/*
 * One upsert takes the attempt, counting it as a failure before the password is checked, and only
 * when the schedule allows one now: of any number of simultaneous attempts on an account, across
 * instances, exactly as many are checked as the schedule allows (issue 13 item 3). A refused
 * attempt changes nothing, so hammering does not push the wait further out. `last_hit_id` says
 * which attempt got through.
 */
const takeAttempt = prepareQuery((db, key: string, now: number, attemptId: string, forgottenBefore: number) => {
  const forgotten = sql<boolean>`${lastFailureAt} <= ${forgottenBefore}`;
  // Below the free failures no clock is compared: an attempt whose clock reads a few milliseconds
  // behind one already counted (another request, another instance) is still a free one.
  const allowed = sql<boolean>`(${forgotten} or ${failures} < ${sql.lit(freeFailures)} or ${lastFailureAt} + ${delayAfterFailuresSql(failures)} <= excluded.last_hit_at)`;
  return db
    .insertInto('rate_limits')
    .values({ key, window_start: now, hits: 1, last_hit_at: now, last_hit_id: attemptId })
    .onConflict((conflict) =>
      conflict.column('key').doUpdateSet({
        hits: sql<number>`case when ${forgotten} then 1 when ${allowed} then ${failures} + 1 else ${failures} end`,
        window_start: sql<number>`case when ${forgotten} then excluded.window_start else rate_limits.window_start end`,
        // The latest failure's time, whichever clock read later: a wait never ends sooner.
        last_hit_at: sql<number>`case when ${allowed} and excluded.last_hit_at > ${lastFailureAt} then excluded.last_hit_at else ${lastFailureAt} end`,
        last_hit_id: sql<string>`case when ${allowed} then excluded.last_hit_id else rate_limits.last_hit_id end`,
      }),
    )
    .returning(['hits', 'last_hit_at', 'last_hit_id']);
});

export type PasswordAttempt = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Takes one password attempt on the account, counted as a failure until `clearLoginFailures`
 * says it succeeded; or says how long to wait. Call it before checking the password.
 */
export async function takePasswordAttempt(db: Kysely<Database>, now: number, key: string): Promise<PasswordAttempt> {
  const attemptId = randomUUID();
  const [row] = await takeAttempt(db, key, now, attemptId, now - failureMemoryMs);
  if (row!.last_hit_id === attemptId) return { allowed: true };
  return { allowed: false, retryAfterMs: Math.max(1, row!.last_hit_at + delayAfterFailures(row!.hits) - now) };
}

/** The right password: earlier failures, and the attempt just taken, are forgotten. */
export async function clearLoginFailures(db: Kysely<Database>, key: string): Promise<void> {
  await db.deleteFrom('rate_limits').where('key', '=', key).execute();
}
