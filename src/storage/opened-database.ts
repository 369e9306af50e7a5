import { Kysely, type KyselyConfig } from 'kysely';
import type { DirectRunner } from './direct-runner.js';
import type { StorageOperations } from './operations/storage-operations.js';
import type { Database } from './schema.js';

/**
 * The Kysely a dialect opens, carrying what belongs to that one database: the runner that skips
 * Kysely's executor for statements compiled once (direct-runner.ts) and the dialect's form of the
 * hot-path operations (storage-operations.ts). Domain code passes it around as any Kysely; a
 * transaction of it is a plain Kysely, without either, so what runs there runs on its connection.
 */
export class OpenedDatabase extends Kysely<Database> {
  readonly operations: StorageOperations;

  constructor(
    config: KyselyConfig,
    readonly directRunner: DirectRunner,
    operationsOf: (db: OpenedDatabase) => StorageOperations,
  ) {
    super(config);
    this.operations = operationsOf(this);
  }
}
