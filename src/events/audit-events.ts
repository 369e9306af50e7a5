import type { Kysely } from 'kysely';
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

/** Appends events to the audit log, in the caller's transaction when given one. */
export async function recordAuditEvents(db: Kysely<Database>, events: AuditEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('events')
    .values(
      events.map((event) => ({
        workspace_id: event.workspaceId,
        at: event.at,
        type: event.type,
        email: event.email ?? null,
        ip: event.ip ?? null,
        detail: event.detail ? JSON.stringify(event.detail) : null,
      })),
    )
    .execute();
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
