import type pg from 'pg';
import { TickBatch } from '../../tick-batch.js';

/**
 * Calls per multi-row INSERT: enough for a busy turn of the event loop, far from PostgreSQL's 65,535
 * parameters. Each count of calls seen is a statement of its own, prepared once per connection.
 */
const maxCallsPerStatement = 50;

/**
 * The batchable inserts (direct-runner.ts) on PostgreSQL: the calls of one prepared insert made in
 * one turn of the event loop are sent as one multi-row INSERT, one round trip and one commit, and
 * each call settles once it is committed. Should a chunk fail, each of its calls is tried alone, so only
 * a call whose own row fails sees an error. One per pool, made when the database is opened.
 */
export class InsertBatches {
  /** One batch per prepared insert (`name` always stands for the same `text`). */
  readonly #batches = new Map<string, TickBatch<readonly unknown[], PromiseSettledResult<void>>>();

  constructor(private readonly pool: pg.Pool) {}

  async insert(name: string, text: string, parameters: readonly unknown[]): Promise<void> {
    let batch = this.#batches.get(name);
    if (!batch) this.#batches.set(name, (batch = new TickBatch((calls) => insertTogether(this.pool, name, text, calls))));
    const settled = await batch.add(parameters);
    if (settled.status === 'rejected') throw settled.reason;
  }
}

async function insertTogether(pool: pg.Pool, name: string, text: string, calls: (readonly unknown[])[]): Promise<PromiseSettledResult<void>[]> {
  const alone = (parameters: readonly unknown[]) => pool.query({ name, text, values: parameters as unknown[] }).then(() => undefined);
  if (calls.length === 1) return Promise.allSettled([alone(calls[0]!)]);
  const settled: PromiseSettledResult<void>[] = [];
  // Chunk by chunk, so a chunk that fails is retried alone without repeating one already committed.
  for (let start = 0; start < calls.length; start += maxCallsPerStatement) {
    const chunk = calls.slice(start, start + maxCallsPerStatement);
    try {
      await pool.query({ name: `${name}_x${chunk.length}`, text: repeatValues(text, chunk.length), values: chunk.flat() });
      settled.push(...chunk.map((): PromiseSettledResult<void> => ({ status: 'fulfilled', value: undefined })));
    } catch {
      settled.push(...(await Promise.allSettled(chunk.map(alone))));
    }
  }
  return settled;
}

const insertOfValues = /^(insert into .+? values )(\(\$\d+(?:, \$\d+)*\)(?:, \(\$\d+(?:, \$\d+)*\))*)$/s;

/**
 * `insert into t (a, b) values ($1, $2)` repeated for `times` calls:
 * `… values ($1, $2), ($3, $4), …`. The insert must take its parameters in order, as Kysely
 * compiles an insert of values; any other statement is refused at its first batch.
 */
export function repeatValues(text: string, times: number): string {
  const match = insertOfValues.exec(text);
  const numbers = match ? [...match[2]!.matchAll(/\$(\d+)/g)].map((found) => Number(found[1])) : [];
  if (!match || numbers.some((number, index) => number !== index + 1)) throw new Error(`not a batchable insert: ${text}`);
  const tuples = match[2]!.split('), (').length;
  const width = numbers.length / tuples;
  const rows: string[] = [];
  for (let row = 0; row < tuples * times; row += 1) {
    rows.push(`(${Array.from({ length: width }, (_, column) => `$${row * width + column + 1}`).join(', ')})`);
  }
  return match[1] + rows.join(', ');
}
