import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { auditEventRow, type AuditEventInput } from '../events/audit-events.js';
import { operationsOf } from '../storage/operations/storage-operations.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database, OutboxTable } from '../storage/schema.js';
import type { OutboxState } from '../metrics/portico-metrics.js';
import type { MailTemplateName } from './templates.js';

export type OutboxMail = Selectable<OutboxTable>;

/**
 * What an outbox row holds: a mail ready to render (one that carries no secret), or a request for
 * one (`magic-link-request`), which the worker's `prepareRequestedMail` hook turns into its mail at
 * each attempt to send it. Which requests there are, and what they carry, is for that hook to know.
 */
export type OutboxTemplate = MailTemplateName | `${MailTemplateName}-request`;

/** A mail built in memory, just before it is handed to SMTP: the token of a link inside is nowhere else. */
export interface PreparedMail {
  template: MailTemplateName;
  recipient: string;
  payload: Record<string, unknown>;
}

/**
 * What a request row comes to at one attempt: its mail, or nothing (the row is then erased), with a
 * line for the operator when the reason is theirs to act on.
 */
export type MailPreparation = { mail: PreparedMail } | { mail: null; warning?: string };

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

// Runs for every link request: compiled once (prepareQuery), not per request; where statements cost
// round trips, the requests of one turn of the event loop are queued by one insert (batchable).
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
      failures: 0,
      counted_at: null,
    }),
  { batchable: true },
);

/**
 * Takes up to `batchSize` due mails and leases them to this worker until `now + leaseMs`. A worker
 * that dies holding a lease loses it when the lease runs out, and another worker takes the mail.
 * One statement, so no two workers (or instances) ever claim the same row.
 */
export async function claimDueMail(db: Kysely<Database>, now: number, leaseMs: number, batchSize: number): Promise<OutboxMail[]> {
  return operationsOf(db).claimDueMail(now, now + leaseMs, batchSize);
}

/** Erases a mail that went out or can no longer be of use; with its row goes the link it held. */
export async function eraseMail(db: Kysely<Database>, id: string): Promise<void> {
  await operationsOf(db).eraseOutboxMail(id);
}

/** Erases the row of a mail that went out, and records `event` (that it was sent): the last step of a delivery. */
export async function eraseSentMail(db: Kysely<Database>, id: string, event: AuditEventInput): Promise<void> {
  await operationsOf(db).eraseSentMail(id, auditEventRow(event));
}

/** The mail a row is or asks for, as the audit log names it: `magic-link` for a `magic-link-request` row. */
export function mailTemplateOf(template: string): string {
  return template.replace(/-request$/, '');
}

/** True for a row that asks for a mail (`magic-link-request`) rather than holds one ready to render. */
export function isMailRequest(template: string): boolean {
  return template.endsWith('-request');
}

export interface MailRetry {
  retryAt: number;
  /** Why the attempt failed, kept for the operator (and `mail.failed`) should the mail be given up. */
  error: string;
  /** True for a failure that counts towards giving the row up: anything but the mail server being unreachable. */
  countsAsFailure: boolean;
}

/** Puts a mail back in the queue after a failed attempt, to be tried again at `retry.retryAt`. */
export async function scheduleMailRetry(db: Kysely<Database>, id: string, retry: MailRetry): Promise<void> {
  await db
    .updateTable('outbox')
    .set({
      next_attempt_at: retry.retryAt,
      lease_until: null,
      last_error: retry.error.slice(0, 500),
      failures: retry.countsAsFailure ? sql<number>`failures + 1` : sql<number>`failures`,
    })
    .where('id', '=', id)
    .execute();
}

/**
 * Notes that a mail took its place under its workspace's hourly ceiling, so a retry does not take
 * another, and records `event` with it: both or neither.
 */
export async function markMailCounted(db: Kysely<Database>, id: string, now: number, event: AuditEventInput): Promise<void> {
  await operationsOf(db).markMailCounted(id, now, auditEventRow(event));
}

/**
 * How long the mail that has waited longest since it fell due has been due (0 when none is): one
 * step down the `outbox_due` index, so `/healthz/ready`, which anyone may ask, costs next to nothing
 * however much mail an outage has left waiting.
 */
export async function longestDueWaitMs(db: Kysely<Database>, now: number): Promise<number> {
  const row = await db.selectFrom('outbox').select('next_attempt_at').where('next_attempt_at', '<=', now).orderBy('next_attempt_at').limit(1).executeTakeFirst();
  return row ? Math.max(0, now - Number(row.next_attempt_at)) : 0;
}

/**
 * The outbox at a glance, for metrics, readiness and the outage summary: one statement, the same on
 * both databases. It reads every row, which is cheap while mail flows (a handful) and a few
 * milliseconds for the tens of thousands an outage leaves; it runs per scrape, never per request.
 */
export async function describeOutbox(db: Kysely<Database>, now: number): Promise<OutboxState> {
  const row = await db
    .selectFrom('outbox')
    .select((eb) => [
      eb.fn.countAll<number | string>().as('mails'),
      eb.fn.min('created_at').as('oldest_created_at'),
      eb.fn.min(eb.case().when('next_attempt_at', '<=', now).then(eb.ref('next_attempt_at')).else(null).end()).as('oldest_due_at'),
    ])
    .executeTakeFirstOrThrow();
  const oldestCreatedAt = row.oldest_created_at === null ? null : Number(row.oldest_created_at);
  const oldestDueAt = row.oldest_due_at === null ? null : Number(row.oldest_due_at);
  return {
    mails: Number(row.mails),
    oldestMailAgeMs: oldestCreatedAt === null ? 0 : Math.max(0, now - oldestCreatedAt),
    oldestDueMs: oldestDueAt === null ? 0 : Math.max(0, now - oldestDueAt),
  };
}
