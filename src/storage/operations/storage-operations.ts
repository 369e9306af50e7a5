import type { Kysely, Selectable } from 'kysely';
import { OpenedDatabase } from '../opened-database.js';
import type { ClientTable, Database, OutboxTable, WebhookDeliveryTable } from '../schema.js';
import { oneAtATimeOperations } from './one-at-a-time.js';

/** One hit on a rate-limit counter, in the fixed window that starts at `windowStart`. */
export interface RateLimitHit {
  key: string;
  windowStart: number;
  now: number;
}

/** A request for an address's email slot (rate-limits/counter-updates.ts has the rule). */
export interface EmailSlotRequest {
  key: string;
  now: number;
  /** Random: comes back as the slot's holder only if this request took it. */
  hitId: string;
  cooldownMs: number;
  perHour: number;
}

/** An address's email counter as a slot request left it (rate-limits/counter-updates.ts reads it). */
export interface EmailSlotState {
  /** The id of the hit that holds the latest slot: the request's own `hitId` only if it took it. */
  holderId: string;
  /** When the latest email slot was taken. */
  lastEmailAt: number;
  /** When the bucket is full again (the counter's `window_start`). */
  bucketFullAt: number;
}

/** An audit event as its row stores it (events/audit-events.ts makes one). */
export interface AuditEventRow {
  workspaceId: string;
  at: number;
  type: string;
  email: string | null;
  ip: string | null;
  /** JSON, or null. */
  detail: string | null;
}

/** A link to use, by the hash of its token, in the workspace whose address it was opened at. */
export interface LinkToConsume {
  now: number;
  tokenHash: string;
  workspaceId: string;
}

/** The link a consumption used: its client, and where to go once signed in. */
export interface ConsumedLink {
  clientId: string;
  clientEmail: string;
  /** The client's session generation as the consumption saw it, for the session it starts. */
  clientGeneration: number;
  /** The client's last language as the consumption saw it: the sign-in writes it only if it changes. */
  clientLastLocale: string | null;
  nextPath: string | null;
  /** The link's stored purpose (`sign_in` or `invitation`), for the method its session records. */
  purpose: string;
}

/**
 * The hot-path statements whose best form differs by database. Domain code asks for the operation
 * (`operationsOf(db).countRateLimitHit(hit)`) and never which database it has: on SQLite each is
 * one statement in the group commit (one-at-a-time.ts); on PostgreSQL, where a round trip costs
 * more than the statement, the calls of one turn of the event loop share one statement
 * (dialects/postgres/). Both forms keep the same rule, each call answered as if alone.
 */
export interface StorageOperations {
  /** Counts one hit; the counter's hits in its window after this one. */
  countRateLimitHit(hit: RateLimitHit): Promise<number>;
  /** Takes the address's email slot if the rule allows one now; the counter as this request left it. */
  takeEmailSlot(request: EmailSlotRequest): Promise<EmailSlotState>;
  /** The client of a workspace with this (already normalised) email, or null. */
  findClientByNormalizedEmail(workspaceId: string, normalizedEmail: string): Promise<Selectable<ClientTable> | null>;
  /**
   * Uses a live link, ending the client's other live links with it, in one atomic step: of any
   * number of concurrent consumptions of a client's links, exactly one wins. Null when the link
   * was not live (unknown, another workspace's, expired, ended, or its client disabled).
   */
  consumeMagicLink(link: LinkToConsume): Promise<ConsumedLink | null>;
  /** Leases up to `batchSize` due outbox rows until `leaseUntil`; no two callers ever get the same row. */
  claimDueMail(now: number, leaseUntil: number, batchSize: number): Promise<Selectable<OutboxTable>[]>;
  /** Leases up to `batchSize` due pending webhook deliveries until `leaseUntil`; no two callers ever get the same row. */
  claimDueWebhookDeliveries(now: number, leaseUntil: number, batchSize: number): Promise<Selectable<WebhookDeliveryTable>[]>;
  /** Erases an outbox row. */
  eraseOutboxMail(id: string): Promise<void>;
  /** Erases the outbox row of a mail that went out and records `event` (that it was sent). */
  eraseSentMail(id: string, event: AuditEventRow): Promise<void>;
  /**
   * Notes that an outbox row took its place under its workspace's hourly ceiling and records
   * `event` with it: both or neither, so a retry neither takes a second place nor records a second
   * event.
   */
  markMailCounted(id: string, now: number, event: AuditEventRow): Promise<void>;
}

/** The operations on this database: its dialect's, or inside a transaction the one-at-a-time form on the transaction's connection. */
export function operationsOf(db: Kysely<Database>): StorageOperations {
  return db instanceof OpenedDatabase ? db.operations : oneAtATimeOperations(db);
}
