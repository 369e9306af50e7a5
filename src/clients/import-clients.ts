import { randomUUID } from 'node:crypto';
import type { Insertable, Kysely } from 'kysely';
import { AppError } from '../errors.js';
import type { Clock } from '../shared/clock.js';
import type { ClientTable, Database } from '../storage/schema.js';
import { queueWebhookEvents } from '../webhooks/webhook-events.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { readClientName } from './clients.js';
import { parseEmailAddress } from './email.js';

export interface ImportReport {
  added: number;
  updated: number;
  rejected: { line: number; reason: string }[];
}

/** Rows written per transaction: a few milliseconds of holding SQLite's write lock. */
const rowsPerTransaction = 500;

/**
 * Adds or updates clients from CSV text with the header `email,name`. Each bad row is reported by
 * its line number and skipped; the good rows are written in transactions of a few hundred.
 */
export async function importClients(db: Kysely<Database>, clock: Clock, workspace: Workspace, csvText: string): Promise<ImportReport> {
  // Loaded here, not at start-up: only `portico client import` reads CSV.
  const { parse } = await import('csv-parse/sync');
  let records: { record: string[]; line: number }[];
  try {
    records = (parse(csvText, { bom: true, relax_column_count: true, skip_empty_lines: true, info: true }) as unknown as { record: string[]; info: { lines: number } }[]).map(
      (row) => ({ record: row.record, line: row.info.lines }),
    );
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    throw new AppError('IMPORT_FILE_UNREADABLE', { message: `The CSV file could not be read${line ? ` at line ${line}` : ''}: check its quotes and commas.`, cause: error });
  }
  const header = records.shift();
  const columns = header?.record.map((cell) => cell.trim().toLowerCase());
  if (!columns || columns[0] !== 'email' || (columns.length > 1 && columns[1] !== 'name') || columns.length > 2) {
    throw new AppError('IMPORT_HEADER_INVALID');
  }

  const report: ImportReport = { added: 0, updated: 0, rejected: [] };
  const rowsByEmail = new Map<string, { email: string; name: string }>();
  for (const { record, line } of records) {
    if (record.length > 2) {
      report.rejected.push({ line, reason: `expected 2 columns (email,name), found ${record.length}` });
      continue;
    }
    const email = parseEmailAddress(record[0] ?? '');
    if (!email.ok) {
      report.rejected.push({ line, reason: `"${record[0] ?? ''}" is not a valid email address` });
      continue;
    }
    const name = readClientName(record[1]);
    if (!name.ok) {
      report.rejected.push({ line, reason: name.reason });
      continue;
    }
    if (rowsByEmail.has(email.normalized)) {
      report.rejected.push({ line, reason: `${email.email} appears on an earlier line` });
      continue;
    }
    rowsByEmail.set(email.normalized, { email: email.email, name: name.name });
  }

  const now = clock.now();
  const entries = [...rowsByEmail];
  // A short transaction per chunk, not one for the whole file: the server keeps signing people in
  // beside a long import, on SQLite too, whose one write lock a single long transaction would hold
  // for seconds (issue 13 item 6). Each row is still written whole or not at all, and an import
  // cut short can be run again: every row is added or updated.
  for (let start = 0; start < entries.length; start += rowsPerTransaction) {
    const chunk = entries.slice(start, start + rowsPerTransaction);
    const counts = await db.transaction().execute(async (trx) => {
      const existing = new Set(
        (
          await trx
            .selectFrom('clients')
            .select('email_normalized')
            .where('workspace_id', '=', workspace.id)
            .where('email_normalized', 'in', chunk.map(([normalized]) => normalized))
            .execute()
        ).map((row) => row.email_normalized),
      );
      const values: Insertable<ClientTable>[] = chunk.map(([normalized, row]) => ({
        id: randomUUID(),
        workspace_id: workspace.id,
        email: row.email,
        email_normalized: normalized,
        name: row.name,
        password_hash: null,
        disabled_at: null,
        created_at: now,
      }));
      // 7 parameters a row; 100 rows stays far below either dialect's limit on bound parameters.
      for (let offset = 0; offset < values.length; offset += 100) {
        await trx
          .insertInto('clients')
          .values(values.slice(offset, offset + 100))
          .onConflict((conflict) =>
            conflict.columns(['workspace_id', 'email_normalized']).doUpdateSet((eb) => ({ email: eb.ref('excluded.email'), name: eb.ref('excluded.name') })),
          )
          .execute();
      }
      // client.added for the rows that were not clients before this chunk, with the chunk.
      await queueWebhookEvents(
        trx,
        values
          .filter((row) => !existing.has(row.email_normalized))
          .map((row) => ({ workspace, type: 'client.added' as const, at: now, client: { id: row.id!, email: row.email }, data: { name: row.name } })),
      );
      return { updated: existing.size, added: chunk.length - existing.size };
    });
    report.added += counts.added;
    report.updated += counts.updated;
  }
  return report;
}
