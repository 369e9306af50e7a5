import { sql, type Kysely } from 'kysely';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database } from '../storage/schema.js';
import { tickBatchOf } from '../storage/tick-batch.js';

/** One redemption, as the batch takes it: the session's id and lifetime are drawn by the caller. */
export interface RedemptionRequest {
  now: number;
  tokenHash: string;
  workspaceId: string;
  sessionIdHash: string;
  sessionExpiresAt: number;
  userAgent: string;
  ip: string;
}

/** A redemption that won: the link it used, for the session the caller already holds. */
export interface Redeemed {
  clientId: string;
  clientEmail: string;
  nextPath: string | null;
}

/**
 * Where statements cost round trips (PostgreSQL), the redemptions of one turn of the event loop
 * are one statement: each link asked for is ended with its client's other live links, and only
 * where the link was live are the session and its two audit events inserted. Null for a link that
 * could not be used; the caller then asks why (explainUnusableLink).
 */
export function redeemInBatch(db: Kysely<Database>, request: RedemptionRequest): Promise<Redeemed | null> {
  return tickBatchOf(db, 'redemptions', redeemTogether).add(request);
}

/*
 * How the statement keeps the rules of one conditional UPDATE per redemption:
 * - `live`: of the links asked for, the ones still usable; of two for one client (or one link asked
 *   for twice), only the first asked can win, as if they had run one after the other.
 * - `locked`: every live link of those clients is locked in one order (by token hash) before any is
 *   changed, so two batches in flight never wait on each other's rows (a deadlock). A link another
 *   redemption ended meanwhile is dropped when its lock is granted: PostgreSQL checks the row again.
 * - `ended` ends the locked links: `used` for the winner, `superseded` for the client's others.
 * - Sessions and events are inserted only for a link that `ended` really used.
 * Values in a SELECT list carry a cast: PostgreSQL would otherwise take an untyped parameter there
 * for text.
 */
const redeemLinks = prepareQuery(
  (
    db,
    positions: number[],
    nows: number[],
    tokenHashes: string[],
    workspaceIds: string[],
    sessionIdHashes: string[],
    sessionExpiresAts: number[],
    userAgents: string[],
    ips: string[],
    startedDetail: string,
  ) => {
    const query = sql<{ position: number; client_id: string; email: string; next_path: string | null }>`
      with wanted as (
        select * from unnest(
          cast(${positions} as integer[]), cast(${nows} as bigint[]), cast(${tokenHashes} as text[]), cast(${workspaceIds} as text[]),
          cast(${sessionIdHashes} as text[]), cast(${sessionExpiresAts} as bigint[]), cast(${userAgents} as text[]), cast(${ips} as text[])
        ) as wanted (position, now, token_hash, workspace_id, session_id_hash, session_expires_at, user_agent, ip)
      ), live as (
        select distinct on (link.client_id) wanted.*, link.client_id, clients.email
        from wanted
        inner join magic_links as link on link.token_hash = wanted.token_hash and link.workspace_id = wanted.workspace_id
        inner join clients on clients.id = link.client_id
        where link.ended_at is null and link.expires_at > wanted.now and clients.disabled_at is null
        order by link.client_id, wanted.position
      ), locked as (
        select magic_links.token_hash from magic_links
        where magic_links.ended_at is null and magic_links.client_id in (select client_id from live)
        order by magic_links.token_hash
        for update
      ), ended as (
        update magic_links
        set ended_at = live.now, end_reason = case when magic_links.token_hash = live.token_hash then 'used' else 'superseded' end
        from locked, live
        where magic_links.token_hash = locked.token_hash and magic_links.client_id = live.client_id and magic_links.ended_at is null
        returning magic_links.token_hash, magic_links.next_path
      ), used as (
        select live.*, ended.next_path from live inner join ended on ended.token_hash = live.token_hash
      ), session as (
        insert into sessions (id_hash, workspace_id, client_id, sign_in_method, user_agent, ip, created_at, last_seen_at, expires_at)
        select session_id_hash, workspace_id, client_id, 'magic_link', user_agent, ip, now, now, session_expires_at from used
      ), audit as (
        insert into events (workspace_id, at, type, email, ip, detail)
        select used.workspace_id, used.now, event.type, used.email, used.ip, event.detail
        from used cross join (values (1, 'magic_link.used', null), (2, 'session.started', cast(${startedDetail} as text))) as event (rank, type, detail)
        order by used.position, event.rank
      )
      select position, client_id, email, next_path from used`;
    return { compile: () => query.compile(db) };
  },
);

async function redeemTogether(db: Kysely<Database>, requests: RedemptionRequest[]): Promise<(Redeemed | null)[]> {
  const column = <T>(pick: (request: RedemptionRequest) => T) => requests.map(pick);
  const rows = await redeemLinks(
    db,
    requests.map((_, index) => index),
    column((request) => request.now),
    column((request) => request.tokenHash),
    column((request) => request.workspaceId),
    column((request) => request.sessionIdHash),
    column((request) => request.sessionExpiresAt),
    column((request) => request.userAgent),
    column((request) => request.ip),
    JSON.stringify({ method: 'magic_link' }),
  );
  // By position, not by token: of one link asked for twice, only the first asked won.
  const won = new Map(rows.map((row) => [row.position, row]));
  return requests.map((_, index) => {
    const row = won.get(index);
    return row ? { clientId: row.client_id, clientEmail: row.email, nextPath: row.next_path } : null;
  });
}
