import { createHash } from 'node:crypto';
import type { PorticoContext } from '../context.js';
import { AppError } from '../errors.js';

/** How long the first answer to a request with an `Idempotency-Key` is kept and given again. */
export const idempotencyWindowMs = 24 * 3600_000;

export interface IdempotentAnswer {
  status: number;
  body: unknown;
  /** True when this is the stored answer of an earlier request with the same key. */
  replayed: boolean;
}

/** What tells two requests apart: method, path and body (its keys in a fixed order). */
export function fingerprintRequest(method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${canonicalJson(body ?? null)}`, 'utf8').digest('base64url');
}

/**
 * Runs `work` once per API key and idempotency key a day: a repeat of the request gets the first
 * answer and does nothing; the same key with another request is IDEMPOTENCY_KEY_REUSED.
 *
 * The key is claimed by one insert-or-conflict in the transaction that does the work and stores
 * its answer, so all three commit together or not at all. Two requests with one key, on one
 * instance or on two: PostgreSQL makes the second insert wait for the first transaction and then
 * see its committed row; SQLite runs one write transaction at a time. Either way the second
 * replays the first's answer, and one mail is queued. A request that fails stores nothing (its
 * transaction rolls back), so it can be tried again with the same key.
 */
export async function runIdempotently(
  context: PorticoContext,
  request: { apiKeyId: string; idempotencyKey: string; fingerprint: string },
  work: (context: PorticoContext) => Promise<{ status: number; body: unknown }>,
): Promise<IdempotentAnswer> {
  const now = context.clock.now();
  let mailQueued = false;
  const answer = await context.db.transaction().execute(async (trx): Promise<IdempotentAnswer> => {
    const claimed = await trx
      .insertInto('idempotent_requests')
      .values({ api_key_id: request.apiKeyId, idempotency_key: request.idempotencyKey, fingerprint: request.fingerprint, status: 0, body: '', created_at: now })
      .onConflict((conflict) =>
        conflict
          .columns(['api_key_id', 'idempotency_key'])
          // A key older than the window is free again: taken over in the same statement.
          .doUpdateSet({ fingerprint: request.fingerprint, status: 0, body: '', created_at: now })
          .where('idempotent_requests.created_at', '<=', now - idempotencyWindowMs),
      )
      .returning('idempotency_key')
      .executeTakeFirst();
    if (!claimed) {
      const stored = await trx
        .selectFrom('idempotent_requests')
        .select(['fingerprint', 'status', 'body'])
        .where('api_key_id', '=', request.apiKeyId)
        .where('idempotency_key', '=', request.idempotencyKey)
        .executeTakeFirstOrThrow();
      if (stored.fingerprint !== request.fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED');
      return { status: stored.status, body: JSON.parse(stored.body) as unknown, replayed: true };
    }
    // The worker hears of the mail once it is committed, not before.
    const done = await work({ ...context, db: trx, notifyMailQueued: () => (mailQueued = true) });
    await trx
      .updateTable('idempotent_requests')
      .set({ status: done.status, body: JSON.stringify(done.body) })
      .where('api_key_id', '=', request.apiKeyId)
      .where('idempotency_key', '=', request.idempotencyKey)
      .execute();
    return { ...done, replayed: false };
  });
  if (mailQueued) context.notifyMailQueued();
  return answer;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
