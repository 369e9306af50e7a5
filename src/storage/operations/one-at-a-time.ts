import { sql, type Kysely } from 'kysely';
import { countHits, emailSlotRule, takeEmailSlotIfAllowed } from '../../rate-limits/counter-updates.js';
import { prepareQuery } from '../prepared-query.js';
import type { Database } from '../schema.js';
import type { StorageOperations } from './storage-operations.js';

/*
 * The hot-path operations as any SQL database runs them, one statement per call: SQLite's form
 * (its statements are in-process calls that share a group commit), and every database's inside a
 * transaction. Each is compiled once (prepareQuery), not per request.
 */

// Both upserts run on every POST to a door. `relaxed`: where the runner can, they commit without
// waiting for the disk (direct-runner.ts); a database crash may forget the last fraction of a
// second of counts, and no request waits for an fsync on the one counter row its workspace shares.
const countHit = prepareQuery(
  (db, key: string, windowStart: number, now: number) =>
    db
      .insertInto('rate_limits')
      .values({ key, window_start: windowStart, hits: 1, last_hit_at: now, last_hit_id: '' })
      .onConflict((conflict) => conflict.column('key').doUpdateSet(countHits))
      .returning(['hits']),
  { durability: 'relaxed' },
);

const countEmailHit = prepareQuery(
  (db, key: string, fullAtIfNew: number, now: number, hitId: string, cooldownMs: number, refillMs: number, burstMs: number) =>
    db
      .insertInto('rate_limits')
      .values({ key, window_start: fullAtIfNew, hits: 1, last_hit_at: now, last_hit_id: hitId })
      .onConflict((conflict) => conflict.column('key').doUpdateSet(takeEmailSlotIfAllowed(cooldownMs, refillMs, burstMs)))
      .returning(['last_hit_id', 'last_hit_at', 'window_start']),
  { durability: 'relaxed' },
);

// Every link request and password sign-in looks a client up.
const selectClientByNormalizedEmail = prepareQuery((db, workspaceId: string, normalizedEmail: string) =>
  db.selectFrom('clients').selectAll().where('workspace_id', '=', workspaceId).where('email_normalized', '=', normalizedEmail),
);

// Runs on every redemption. One conditional UPDATE ends this link and every other live link of the
// same client, and only if this link is live (better-auth's single-step consumption, without its
// plaintext tokens). It also returns the client's address, which the audit log records, so that
// takes no second query; so do the client's session generation, which the session records, and
// its last language, which the sign-in updates only when the browser's differs.
const endLiveLinksOfClient = prepareQuery((db, now: number, tokenHash: string, workspaceId: string) =>
  db
    .updateTable('magic_links')
    .set((eb) => ({
      ended_at: now,
      end_reason: eb.case().when('token_hash', '=', tokenHash).then('used').else('superseded').end(),
    }))
    .where('ended_at', 'is', null)
    .where('client_id', '=', (eb) =>
      eb
        .selectFrom('magic_links as live')
        .innerJoin('clients', 'clients.id', 'live.client_id')
        .select('live.client_id')
        .where('live.token_hash', '=', tokenHash)
        .where('live.workspace_id', '=', workspaceId)
        .where('live.ended_at', 'is', null)
        .where('live.expires_at', '>', now)
        .where('clients.disabled_at', 'is', null),
    )
    .returning((eb) => [
      'token_hash',
      'client_id',
      'next_path',
      'purpose',
      eb.selectFrom('clients').select('clients.email').whereRef('clients.id', '=', 'magic_links.client_id').as('client_email'),
      eb.selectFrom('clients').select('clients.session_generation').whereRef('clients.id', '=', 'magic_links.client_id').as('client_generation'),
      eb.selectFrom('clients').select('clients.last_locale').whereRef('clients.id', '=', 'magic_links.client_id').as('client_last_locale'),
    ]),
);

/**
 * Leases due outbox rows in one statement, so no two workers (or instances) ever claim the same
 * row. `skipLocked` (PostgreSQL): rows another worker is claiming are skipped, not waited for.
 */
export function prepareClaimOfDueMail(options: { skipLocked: boolean }) {
  return prepareQuery((db, now: number, leaseUntil: number, batchSize: number) =>
    db
      .updateTable('outbox')
      .set({ lease_until: leaseUntil, attempts: sql`attempts + 1` })
      .where('id', 'in', (eb) => {
        const due = eb
          .selectFrom('outbox as due')
          .select('due.id')
          .where('due.next_attempt_at', '<=', now)
          .where((inner) => inner.or([inner('due.lease_until', 'is', null), inner('due.lease_until', '<=', now)]))
          .orderBy('due.next_attempt_at')
          .limit(batchSize);
        return options.skipLocked ? due.forUpdate().skipLocked() : due;
      })
      .returningAll(),
  );
}

const claimDue = prepareClaimOfDueMail({ skipLocked: false });

/**
 * Leases due webhook deliveries in one statement, as the mail claim does. The conditions are also
 * on the outer UPDATE, so that where a second claimer waits for a row the first one took
 * (PostgreSQL re-checks the outer WHERE on the row as the first left it), it skips the row.
 */
export function prepareClaimOfDueWebhookDeliveries(options: { skipLocked: boolean }) {
  return prepareQuery((db, now: number, leaseUntil: number, batchSize: number) =>
    db
      .updateTable('webhook_deliveries')
      .set({ lease_until: leaseUntil, attempts: sql`attempts + 1` })
      .where('state', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .where(({ selectFrom }) => {
        const due = selectFrom('webhook_deliveries as due')
          .select(['due.event_id', 'due.endpoint_id'])
          .where('due.state', '=', 'pending')
          .where('due.next_attempt_at', '<=', now)
          .where((where) => where.or([where('due.lease_until', 'is', null), where('due.lease_until', '<=', now)]))
          .orderBy('due.next_attempt_at')
          .limit(batchSize);
        return sql<boolean>`(event_id, endpoint_id) in (${options.skipLocked ? due.forUpdate().skipLocked() : due})`;
      })
      .returningAll(),
  );
}

const claimDueWebhooks = prepareClaimOfDueWebhookDeliveries({ skipLocked: false });

const deleteOutboxRow = prepareQuery((db, id: string) => db.deleteFrom('outbox').where('id', '=', id));

const insertEvent = prepareQuery(
  (db, workspaceId: string, at: number, type: string, email: string | null, ip: string | null, detail: string | null) =>
    db.insertInto('events').values({ workspace_id: workspaceId, at, type, email, ip, detail }),
  { batchable: true },
);

/** The operations on `db` (a database or a transaction), one statement per call. */
export function oneAtATimeOperations(db: Kysely<Database>): StorageOperations {
  return {
    async countRateLimitHit(hit) {
      return (await countHit(db, hit.key, hit.windowStart, hit.now))[0]!.hits;
    },
    async takeEmailSlot(request) {
      const rule = emailSlotRule(request.now, request);
      const [row] = await countEmailHit(db, request.key, rule.fullAtIfNew, request.now, request.hitId, rule.cooldownMs, rule.refillMs, rule.burstMs);
      return { holderId: row!.last_hit_id, lastEmailAt: row!.last_hit_at, bucketFullAt: row!.window_start };
    },
    async findClientByNormalizedEmail(workspaceId, normalizedEmail) {
      return (await selectClientByNormalizedEmail(db, workspaceId, normalizedEmail))[0] ?? null;
    },
    async consumeMagicLink(link) {
      const ended = await endLiveLinksOfClient(db, link.now, link.tokenHash, link.workspaceId);
      const used = ended.find((row) => row.token_hash === link.tokenHash);
      return used
        ? { clientId: used.client_id, clientEmail: used.client_email!, clientGeneration: used.client_generation!, clientLastLocale: used.client_last_locale ?? null, nextPath: used.next_path, purpose: used.purpose }
        : null;
    },
    claimDueMail(now, leaseUntil, batchSize) {
      return claimDue(db, now, leaseUntil, batchSize);
    },
    claimDueWebhookDeliveries(now, leaseUntil, batchSize) {
      return claimDueWebhooks(db, now, leaseUntil, batchSize);
    },
    async eraseOutboxMail(id) {
      await deleteOutboxRow(db, id);
    },
    async eraseSentMail(id, event) {
      await deleteOutboxRow(db, id);
      await insertEvent(db, event.workspaceId, event.at, event.type, event.email, event.ip, event.detail);
    },
    async markMailCounted(id, now, event) {
      const mark = async (trx: Kysely<Database>) => {
        await trx.updateTable('outbox').set({ counted_at: now }).where('id', '=', id).execute();
        await insertEvent(trx, event.workspaceId, event.at, event.type, event.email, event.ip, event.detail);
      };
      // Both or neither: in the caller's transaction when there is one, else in one of their own.
      if (db.isTransaction) await mark(db);
      else await db.transaction().execute(mark);
    },
  };
}
