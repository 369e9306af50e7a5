import type { Command } from 'commander';
import { connectDatabase } from '../../storage/database.js';
import { migrateToLatest } from '../../storage/migrate.js';
import { redactDatabaseUrl } from '../../storage/database-url.js';
import { CommandFailure, loadConfigOrFail } from '../command-runner.js';

/** `portico migrate`: brings the schema up to date; running it again changes nothing. */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('bring the database schema up to date (safe to run again)')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const config = loadConfigOrFail();
      const cannot = (error: unknown) =>
        new CommandFailure(`cannot migrate the database at ${redactDatabaseUrl(config.databaseUrl)}: ${error instanceof Error ? error.message : String(error)}`);
      let handle: Awaited<ReturnType<typeof connectDatabase>>;
      try {
        handle = await connectDatabase(config.databaseUrl, 1);
      } catch (error) {
        throw cannot(error);
      }
      try {
        const report = await migrateToLatest(handle).catch((error: unknown) => {
          throw cannot(error);
        });
        const text = report.applied.length === 0 ? 'The database schema is up to date.' : `Applied ${report.applied.length} migration(s): ${report.applied.join(', ')}`;
        process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${text}\n`);
      } finally {
        await handle.close();
      }
    });
}
