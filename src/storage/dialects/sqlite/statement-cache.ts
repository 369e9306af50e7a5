import type BetterSqlite3 from 'better-sqlite3';

/**
 * Each distinct SQL text prepared once: preparing is a large share of the cost of a small query,
 * and Kysely asks better-sqlite3 to prepare every statement it runs.
 */
export class StatementCache {
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  constructor(private readonly connection: BetterSqlite3.Database) {}

  get(text: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.connection.prepare(text);
      if (this.#statements.size >= 500) this.#statements.clear();
      this.#statements.set(text, statement);
    }
    return statement;
  }
}
