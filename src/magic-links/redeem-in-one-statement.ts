import { sql } from 'kysely';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database } from '../storage/schema.js';

/**
 * A redemption's three writes as one statement, where statements cost round trips (PostgreSQL): the
 * link and the client's other live links are ended, and only if this link was live, the session
 * and the two audit events are inserted. One round trip and one commit where the steps take three
 * of each; the client's address comes back for the caller. The UPDATE decides the winner exactly as
 * the steps' UPDATE does: of concurrent redemptions, the ones that lose find the rows already ended
 * when they re-check them, get no row back, and insert nothing.
 *
 * Values in a SELECT list carry a cast: PostgreSQL would otherwise take an untyped parameter there
 * for text, and a text value does not go into a bigint column.
 */
export const redeemInOneStatement = prepareQuery(
  (db, now: number, tokenHash: string, workspaceId: string, sessionIdHash: string, userAgent: string, ip: string, sessionExpiresAt: number, startedDetail: string) => {
    const query = sql<{ client_id: string; next_path: string | null; email: string }>`
      with live as (
        select live.client_id, clients.email
        from magic_links as live
        inner join clients on clients.id = live.client_id
        where live.token_hash = ${tokenHash} and live.workspace_id = ${workspaceId}
          and live.ended_at is null and live.expires_at > ${now} and clients.disabled_at is null
      ), ended as (
        update magic_links
        set ended_at = ${now}, end_reason = case when token_hash = ${tokenHash} then 'used' else 'superseded' end
        where ended_at is null and client_id = (select client_id from live)
        returning token_hash, client_id, next_path
      ), used as (
        select ended.client_id, ended.next_path, live.email
        from ended cross join live
        where ended.token_hash = ${tokenHash}
      ), session as (
        insert into sessions (id_hash, workspace_id, client_id, sign_in_method, user_agent, ip, created_at, last_seen_at, expires_at)
        select cast(${sessionIdHash} as text), cast(${workspaceId} as text), client_id, 'magic_link', cast(${userAgent} as text), cast(${ip} as text),
          cast(${now} as bigint), cast(${now} as bigint), cast(${sessionExpiresAt} as bigint)
        from used
      ), audit as (
        insert into events (workspace_id, at, type, email, ip, detail)
        select cast(${workspaceId} as text), cast(${now} as bigint), event.type, used.email, cast(${ip} as text), event.detail
        from used cross join (values ('magic_link.used', null), ('session.started', cast(${startedDetail} as text))) as event (type, detail)
      )
      select client_id, next_path, email from used`;
    return { compile: () => query.compile(db) };
  },
);

