import type { Compilable, CompiledQuery, Kysely } from 'kysely';
import { directRunnerOf, type RunOptions } from './direct-runner.js';
import type { Database } from './schema.js';

/** Stands in for an argument while a query is compiled once; swapped for the real value at each run. */
class Placeholder {
  constructor(readonly index: number) {}
}

let preparedQueryCount = 0;

/**
 * A query built and compiled once per dialect, then run with new arguments: building and compiling
 * a Kysely query costs more CPU than SQLite takes to answer a small one, and the hot paths (the
 * workspace of every request, the session of every signed-in page) run the same few queries.
 * Outside a transaction it runs straight on the driver (direct-runner.ts): a statement prepared
 * once on SQLite, a named prepared statement on PostgreSQL.
 * `build` must use its arguments only as values (not compute with them), so each lands in the
 * compiled query's parameters where a placeholder can be swapped.
 */
export function prepareQuery<Row, Args extends unknown[]>(build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>, options: Partial<RunOptions> = {}) {
  const runOptions: RunOptions = { durability: options.durability ?? 'durable', batchable: options.batchable ?? false };
  const compiledByAdapter = new WeakMap<object, CompiledQuery<Row>>();
  const name = `portico_${++preparedQueryCount}`;
  return async (db: Kysely<Database>, ...args: Args): Promise<Row[]> => {
    const executor = db.getExecutor();
    let compiled = compiledByAdapter.get(executor.adapter);
    if (!compiled) {
      const placeholders = args.map((_, index) => new Placeholder(index)) as unknown as Args;
      compiled = build(db, ...placeholders).compile();
      const used = new Set(compiled.parameters.filter((value) => value instanceof Placeholder).map((value) => (value as Placeholder).index));
      if (used.size !== args.length) throw new Error('prepareQuery: every argument must appear as a value in the query');
      compiledByAdapter.set(executor.adapter, compiled);
    }
    const query = { ...compiled, parameters: compiled.parameters.map((value) => (value instanceof Placeholder ? args[value.index] : value)) };
    const direct = directRunnerOf(db)?.(query, name, runOptions);
    if (direct) return (await direct) as Row[];
    return (await db.executeQuery<Row>(query)).rows;
  };
}
