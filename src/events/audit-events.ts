import type { Kysely } from 'kysely';
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
  | 'login.succeeded'
  | 'login.failed'
  | 'password.reset_requested'
  | 'password.reset'
  | 'password.set'
  | 'password.changed'
  | 'client.invited'
  | 'session.started'
  | 'session.ended'
  | 'client.disabled';

export interface AuditEventInput {
  workspaceId: string;
  at: number;
  type: AuditEventType;
  email?: string | null;
  ip?: string | null;
  /** Extra facts such as a rejection reason. Never a token or a session id. */
  detail?: Record<string, string | number | boolean | null>;
}

// Sign-ins and link requests record events: compiled once (prepareQuery), not per request.
const insertEvent = prepareQuery((db, workspaceId: string, at: number, type: string, email: string | null, ip: string | null, detail: string | null) =>
  db.insertInto('events').values({ workspace_id: workspaceId, at, type, email, ip, detail }),
);

/**
 * Appends events to the audit log, in the caller's transaction when given one. The inserts are
 * issued together, so on SQLite they land in the same group commit.
 */
export async function recordAuditEvents(db: Kysely<Database>, events: AuditEventInput[]): Promise<void> {
  await Promise.all(
    events.map((event) =>
      insertEvent(db, event.workspaceId, event.at, event.type, event.email ?? null, event.ip ?? null, event.detail ? JSON.stringify(event.detail) : null),
    ),
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
  const rows = await db
    .selectFrom('events')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    at: new Date(row.at).toISOString(),
    type: row.type,
    email: row.email,
    ip: row.ip,
    ...(row.detail ? (JSON.parse(row.detail) as Record<string, unknown>) : {}),
  }));
}
