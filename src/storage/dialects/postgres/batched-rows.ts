import { sql, type Kysely, type Selectable } from 'kysely';
import { prepareQuery } from '../../prepared-query.js';
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
