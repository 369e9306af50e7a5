import type { Kysely } from 'kysely';
import type { AuditEventRow } from '../storage/operations/storage-operations.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database } from '../storage/schema.js';

/** Every kind of audit event Portico records, per workspace. */
export type AuditEventType =
  | 'magic_link.requested'
  | 'magic_link.sent'
  | 'magic_link.used'
  | 'magic_link.rejected'
  | 'mail.sent'
  | 'mail.failed'
  | 'mail.workspace_limited'
  | 'login.succeeded'
  | 'login.failed'
  | 'password.reset_requested'
  | 'password.reset'
  | 'password.set'
  | 'password.changed'
  | 'client.invited'
  | 'session.started'
  | 'session.ended'
  | 'client.disabled'
  | 'client.enabled'
  | 'client.updated'
  | 'api_key.created'
  | 'api_key.revoked';

export interface AuditEventInput {
  workspaceId: string;
  at: number;
  type: AuditEventType;
  email?: string | null;
  ip?: string | null;
  /** Extra facts such as a rejection reason. Never a token or a session id. */
  detail?: Record<string, string | number | boolean | null>;
}

const eventColumnCount = 6;
const maxEventsPerInsert = 4;

/**
 * One insert for each number of events recorded together (one or two on the hot paths), each
 * compiled once (prepareQuery): sign-ins and link requests record events on every request. Where
 * statements cost round trips, the events recorded in one turn of the event loop go in by one
 * insert (batchable).
 */
const insertEventsByCount = new Map<number, ReturnType<typeof prepareEventInsert>>();

function prepareEventInsert(count: number) {
  return prepareQuery((db, ...values: (string | number | null)[]) =>
    db.insertInto('events').values(
      Array.from({ length: count }, (_, index) => {
        const [workspaceId, at, type, email, ip, detail] = values.slice(index * eventColumnCount, (index + 1) * eventColumnCount);
        return { workspace_id: workspaceId as string, at: at as number, type: type as string, email: email as string | null, ip: ip as string | null, detail: detail as string | null };
      }),
    ),
    { batchable: true },
  );
}

/** An event as its row stores it: the detail as JSON. */
export function auditEventRow(event: AuditEventInput): AuditEventRow {
  return { workspaceId: event.workspaceId, at: event.at, type: event.type, email: event.email ?? null, ip: event.ip ?? null, detail: event.detail ? JSON.stringify(event.detail) : null };
}

/** Appends events to the audit log, in one statement, in the caller's transaction when given one. */
export async function recordAuditEvents(db: Kysely<Database>, events: AuditEventInput[]): Promise<void> {
  if (events.length === 0) return;
  // Callers record one or two; should one ever record many, a few compiled shapes still serve them.
  if (events.length > maxEventsPerInsert) {
    for (let start = 0; start < events.length; start += maxEventsPerInsert) await recordAuditEvents(db, events.slice(start, start + maxEventsPerInsert));
    return;
  }
  let insert = insertEventsByCount.get(events.length);
  if (!insert) insertEventsByCount.set(events.length, (insert = prepareEventInsert(events.length)));
  await insert(
    db,
    ...events.flatMap((event) => [event.workspaceId, event.at, event.type, event.email ?? null, event.ip ?? null, event.detail ? JSON.stringify(event.detail) : null]),
  );
}

export interface AuditEvent {
  at: string;
  type: string;
  email: string | null;
  ip: string | null;
  [detail: string]: unknown;
}

/** The newest events of a workspace first, as `portico events` prints them. */
export async function listAuditEvents(db: Kysely<Database>, workspaceId: string, limit: number): Promise<AuditEvent[]> {
  return (await listAuditEventPage(db, workspaceId, { limit })).events;
}

/**
 * A page of a workspace's events, newest first: those recorded before the event `beforeId`, and
 * the id to ask the next page with (null on the last). Keyed by id, so events recorded meanwhile
 * neither repeat nor shift a page.
 */
export async function listAuditEventPage(
  db: Kysely<Database>,
  workspaceId: string,
  options: { limit: number; beforeId?: number | null },
): Promise<{ events: AuditEvent[]; nextBeforeId: number | null }> {
  let select = db.selectFrom('events').selectAll().where('workspace_id', '=', workspaceId);
  if (options.beforeId != null) select = select.where('id', '<', options.beforeId);
  const rows = await select.orderBy('id', 'desc').limit(options.limit + 1).execute();
  const page = rows.slice(0, options.limit);
  return {
    events: page.map((row) => ({
      at: new Date(row.at).toISOString(),
      type: row.type,
      email: row.email,
      ip: row.ip,
      ...(row.detail ? (JSON.parse(row.detail) as Record<string, unknown>) : {}),
    })),
    nextBeforeId: rows.length > options.limit ? Number(page[page.length - 1]!.id) : null,
  };
}
