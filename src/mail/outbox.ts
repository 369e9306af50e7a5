import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { DialectCapabilities } from '../storage/dialects/dialect.js';
import { batchesStatements } from '../storage/direct-runner.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database, OutboxTable } from '../storage/schema.js';
import { tickBatchOf } from '../storage/tick-batch.js';
import type { MailTemplateName } from './templates.js';

export type OutboxMail = Selectable<OutboxTable>;

/**
 * What an outbox row holds: a mail ready to render, or a request the worker first turns into one
 * (or erases) through a `MailPreparer`.
 */
export type OutboxTemplate = MailTemplateName | 'magic-link-request' | 'password-reset-request';

/** Turns a request row into a mail row, or erases it and returns null. */
export type MailPreparer = (db: Kysely<Database>, row: OutboxMail) => Promise<OutboxMail | null>;

export interface MailToQueue {
  workspaceId: string;
  template: OutboxTemplate;
  recipient: string;
  payload: Record<string, unknown>;
  /** When the mail is worthless (its link expired): retries stop and the row is erased. */
  giveUpAt: number;
}

/** Queues a mail. Call it inside the transaction that creates what the mail carries, so neither exists without the other. */
export async function enqueueMail(db: Kysely<Database>, now: number, mail: MailToQueue): Promise<void> {
  await insertOutboxRow(db, randomUUID(), mail.workspaceId, mail.template, mail.recipient, JSON.stringify(mail.payload), mail.giveUpAt, now);
}

// Runs for every link request: compiled once (prepareQuery), not per request, and on PostgreSQL
// the requests of one turn of the event loop are queued by one insert (batchable).
const insertOutboxRow = prepareQuery(
  (db, id: string, workspaceId: string, template: string, recipient: string, payload: string, giveUpAt: number, now: number) =>
    db.insertInto('outbox').values({
      id,
      workspace_id: workspaceId,
      template,
      recipient,
      payload,
      attempts: 0,
      next_attempt_at: now,
      lease_until: null,
      give_up_at: giveUpAt,
      last_error: null,
      created_at: now,
    }),
  { batchable: true },
);

/**
 * Takes up to `batchSize` due mails and leases them to this worker until `now + leaseMs`. A worker
 * that dies holding a lease loses it when the lease runs out, and another worker takes the mail.
 * One statement, so no two workers (or instances) ever claim the same row: on PostgreSQL the rows
 * another worker is claiming are skipped rather than waited for.
 */
export async function claimDueMail(
  db: Kysely<Database>,
  capabilities: DialectCapabilities,
  now: number,
  leaseMs: number,
  batchSize: number,
): Promise<OutboxMail[]> {
  const claim = capabilities.supportsSkipLocked ? claimDueSkippingLocked : claimDue;
  return claim(db, now, now + leaseMs, batchSize);
}

function buildClaim(skipLocked: boolean) {
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
        return skipLocked ? due.forUpdate().skipLocked() : due;
      })
      .returningAll(),
  );
}

const claimDue = buildClaim(false);
const claimDueSkippingLocked = buildClaim(true);

interface MailContent {
  id: string;
  template: string;
  recipient: string;
  payload: string;
  giveUpAt: number;
}

/** Turns a request row into the mail it asked for, to the client's stored address; null if the row is gone. */
export async function turnRequestIntoMail(db: Kysely<Database>, mail: MailContent): Promise<OutboxMail | null> {
  if (batchesStatements(db)) return tickBatchOf(db, 'outbox rows turned into mail', turnRequestsIntoMail).add(mail);
  const [row] = await updateOutboxRow(db, mail.id, mail.template, mail.recipient, mail.payload, mail.giveUpAt);
  return row ?? null;
}

const updateOutboxRow = prepareQuery((db, id: string, template: string, recipient: string, payload: string, giveUpAt: number) =>
  db.updateTable('outbox').set({ template, recipient, payload, give_up_at: giveUpAt }).where('id', '=', id).returningAll(),
);

// The worker prepares the mails it claimed together: on PostgreSQL, one UPDATE for all of them.
const updateOutboxRows = prepareQuery((db, ids: string[], templates: string[], recipients: string[], payloads: string[], giveUpAts: number[]) => {
  const query = sql<OutboxMail>`
    update outbox set template = mail.template, recipient = mail.recipient, payload = mail.payload, give_up_at = mail.give_up_at
    from unnest(cast(${ids} as text[]), cast(${templates} as text[]), cast(${recipients} as text[]), cast(${payloads} as text[]), cast(${giveUpAts} as bigint[]))
      as mail (id, template, recipient, payload, give_up_at)
    where outbox.id = mail.id
    returning outbox.*`;
  return { compile: () => query.compile(db) };
});

async function turnRequestsIntoMail(db: Kysely<Database>, mails: MailContent[]): Promise<(OutboxMail | null)[]> {
  const rows = await updateOutboxRows(
    db,
    mails.map((mail) => mail.id),
    mails.map((mail) => mail.template),
    mails.map((mail) => mail.recipient),
    mails.map((mail) => mail.payload),
    mails.map((mail) => mail.giveUpAt),
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  return mails.map((mail) => byId.get(mail.id) ?? null);
}

/** Erases a mail that went out or can no longer be of use; with its row goes the link it held. */
export async function eraseMail(db: Kysely<Database>, id: string): Promise<void> {
  if (batchesStatements(db)) await tickBatchOf(db, 'outbox rows erased', eraseMails).add(id);
  else await deleteOutboxRow(db, id);
}

const deleteOutboxRow = prepareQuery((db, id: string) => db.deleteFrom('outbox').where('id', '=', id));
const deleteOutboxRows = prepareQuery((db, ids: string[]) => db.deleteFrom('outbox').where('id', '=', sql<string>`any(cast(${ids} as text[]))`));

async function eraseMails(db: Kysely<Database>, ids: string[]): Promise<void[]> {
  await deleteOutboxRows(db, ids);
  return ids.map(() => undefined);
}

/** Puts a mail back in the queue after a failed attempt, to be tried again at `retryAt`. */
export async function scheduleMailRetry(db: Kysely<Database>, id: string, retryAt: number, error: string): Promise<void> {
  await db.updateTable('outbox').set({ next_attempt_at: retryAt, lease_until: null, last_error: error.slice(0, 500) }).where('id', '=', id).execute();
}
