import { sql, type Kysely, type Selectable } from 'kysely';
import { prepareQuery } from '../../prepared-query.js';
import type { AuditEventRow } from '../../operations/storage-operations.js';
import type { ClientTable, Database } from '../../schema.js';

/*
 * Look-ups and erasures by key, many keys to one statement: the worker preparing its mails looks
 * its clients up and erases its sent rows in the same turn of the event loop.
 */

type ClientRow = Selectable<ClientTable>;

const selectClientsByNormalizedEmail = prepareQuery((db, workspaceIds: string[], normalizedEmails: string[]) => {
  const query = sql<ClientRow>`
    select clients.* from clients
    inner join unnest(cast(${workspaceIds} as text[]), cast(${normalizedEmails} as text[])) as wanted (workspace_id, email_normalized)
      on clients.workspace_id = wanted.workspace_id and clients.email_normalized = wanted.email_normalized`;
  return { compile: () => query.compile(db) };
});

/** Each wanted client, or null where the workspace has no client with that address. */
export async function findClientsByNormalizedEmailAtOnce(db: Kysely<Database>, wanted: { workspaceId: string; normalizedEmail: string }[]): Promise<(ClientRow | null)[]> {
  const rows = await selectClientsByNormalizedEmail(
    db,
    wanted.map((one) => one.workspaceId),
    wanted.map((one) => one.normalizedEmail),
  );
  const keyOf = (workspaceId: string, normalizedEmail: string) => JSON.stringify([workspaceId, normalizedEmail]);
  const found = new Map(rows.map((row) => [keyOf(row.workspace_id, row.email_normalized), row]));
  return wanted.map((one) => found.get(keyOf(one.workspaceId, one.normalizedEmail)) ?? null);
}

const deleteOutboxRows = prepareQuery((db, ids: string[]) => db.deleteFrom('outbox').where('id', '=', sql<string>`any(cast(${ids} as text[]))`));

/** Erases the outbox rows of one turn. */
export async function eraseOutboxRowsAtOnce(db: Kysely<Database>, ids: string[]): Promise<void[]> {
  await deleteOutboxRows(db, ids);
  return ids.map(() => undefined);
}

/*
 * The outbox rows of one turn marked counted under their workspace's ceiling, each with its audit
 * event, in one statement: atomic like the transaction of the one-at-a-time form, without its four
 * round trips a mail. An event goes in only with its row's mark.
 */
const markCountedTogether = prepareQuery(
  (db, ids: string[], nows: number[], positions: number[], workspaceIds: string[], ats: number[], types: string[], emails: (string | null)[], ips: (string | null)[], details: (string | null)[]) => {
    const query = sql<{ id: string }>`
      with marked as (
        update outbox set counted_at = mark.now
        from unnest(cast(${ids} as text[]), cast(${nows} as bigint[])) as mark (id, now)
        where outbox.id = mark.id
        returning outbox.id
      )
      insert into events (workspace_id, at, type, email, ip, detail)
      select event.workspace_id, event.at, event.type, event.email, event.ip, event.detail
      from unnest(
        cast(${ids} as text[]), cast(${positions} as integer[]), cast(${workspaceIds} as text[]), cast(${ats} as bigint[]),
        cast(${types} as text[]), cast(${emails} as text[]), cast(${ips} as text[]), cast(${details} as text[])
      ) as event (outbox_id, position, workspace_id, at, type, email, ip, detail)
      inner join marked on marked.id = event.outbox_id
      order by event.position`;
    return { compile: () => query.compile(db) };
  },
);

/** Marks the outbox rows of one turn counted, each with its event. */
export async function markMailsCountedAtOnce(db: Kysely<Database>, marks: { id: string; now: number; event: AuditEventRow }[]): Promise<void[]> {
  await markCountedTogether(
    db,
    marks.map((mark) => mark.id),
    marks.map((mark) => mark.now),
    ...eventColumns(marks.map((mark) => mark.event)),
  );
  return marks.map(() => undefined);
}

/*
 * The sent mails of one turn: their outbox rows erased and a "sent" event recorded for each, in one
 * statement (one round trip and one commit instead of two).
 */
const eraseSentTogether = prepareQuery(
  (db, ids: string[], positions: number[], workspaceIds: string[], ats: number[], types: string[], emails: (string | null)[], ips: (string | null)[], details: (string | null)[]) => {
    const query = sql<never>`
      with erased as (delete from outbox where id = any(cast(${ids} as text[])))
      insert into events (workspace_id, at, type, email, ip, detail)
      select event.workspace_id, event.at, event.type, event.email, event.ip, event.detail
      from unnest(
        cast(${positions} as integer[]), cast(${workspaceIds} as text[]), cast(${ats} as bigint[]),
        cast(${types} as text[]), cast(${emails} as text[]), cast(${ips} as text[]), cast(${details} as text[])
      ) as event (position, workspace_id, at, type, email, ip, detail)
      order by event.position`;
    return { compile: () => query.compile(db) };
  },
);

/** Erases the sent mails of one turn, each with its event. */
export async function eraseSentMailsAtOnce(db: Kysely<Database>, sent: { id: string; event: AuditEventRow }[]): Promise<void[]> {
  await eraseSentTogether(
    db,
    sent.map((mail) => mail.id),
    ...eventColumns(sent.map((mail) => mail.event)),
  );
  return sent.map(() => undefined);
}

/** Events as the array parameters the statements above unnest: positions, then one array per column. */
function eventColumns(events: AuditEventRow[]) {
  return [
    events.map((_, index) => index),
    events.map((event) => event.workspaceId),
    events.map((event) => event.at),
    events.map((event) => event.type),
    events.map((event) => event.email),
    events.map((event) => event.ip),
    events.map((event) => event.detail),
  ] as const;
}
