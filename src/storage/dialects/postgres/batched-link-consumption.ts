import { sql, type Kysely } from 'kysely';
import type { ConsumedLink, LinkToConsume } from '../../operations/storage-operations.js';
import { prepareQuery } from '../../prepared-query.js';
import type { Database } from '../../schema.js';

/*
 * The links consumed in one turn of the event loop are consumed by one statement, keeping the rules
 * of one conditional UPDATE per consumption (one-at-a-time.ts):
 * - `live`: of the links asked for, the ones still usable; of two for one client (or one link asked
 *   for twice), only the first asked can win, as if they had run one after the other.
 * - `locked`: every live link of those clients is locked in one order (by token hash) before any is
 *   changed, so two batches in flight never wait on each other's rows (a deadlock). A link another
 *   consumption ended meanwhile is dropped when its lock is granted: PostgreSQL checks the row again.
 * - `ended` ends the locked links: `used` for the winner, `superseded` for the client's others.
 * The session and the audit events of a winner are written afterwards by their own modules
 * (sessions.ts, audit-events.ts), whose inserts are batched by turn as well.
 */
const consumeLinks = prepareQuery((db, positions: number[], nows: number[], tokenHashes: string[], workspaceIds: string[]) => {
  const query = sql<{ position: number; client_id: string; email: string; session_generation: number; last_locale: string | null; next_path: string | null; purpose: string }>`
    with wanted as (
      select * from unnest(cast(${positions} as integer[]), cast(${nows} as bigint[]), cast(${tokenHashes} as text[]), cast(${workspaceIds} as text[]))
        as wanted (position, now, token_hash, workspace_id)
    ), live as (
      select distinct on (link.client_id) wanted.*, link.client_id, clients.email, clients.session_generation, clients.last_locale
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
      returning magic_links.token_hash, magic_links.next_path, magic_links.purpose
    )
    select live.position, live.client_id, live.email, live.session_generation, live.last_locale, ended.next_path, ended.purpose from live inner join ended on ended.token_hash = live.token_hash`;
  return { compile: () => query.compile(db) };
});

/** What each consumption of one turn used, or null where its link was not live. */
export async function consumeLinksAtOnce(db: Kysely<Database>, links: LinkToConsume[]): Promise<(ConsumedLink | null)[]> {
  const rows = await consumeLinks(
    db,
    links.map((_, index) => index),
    links.map((link) => link.now),
    links.map((link) => link.tokenHash),
    links.map((link) => link.workspaceId),
  );
  // By position, not by token: of one link asked for twice, only the first asked won.
  const won = new Map(rows.map((row) => [row.position, row]));
  return links.map((_, index) => {
    const row = won.get(index);
    return row
      ? {
          clientId: row.client_id,
          clientEmail: row.email,
          clientGeneration: row.session_generation,
          clientLastLocale: row.last_locale,
          nextPath: row.next_path,
          purpose: row.purpose,
        }
      : null;
  });
}
