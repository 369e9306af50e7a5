import type { Command } from 'commander';
import { demoClientEmail } from '../../demo.js';
import { startPortico } from '../../main.js';
import { describeDatabaseUrl } from '../../storage/database-url.js';
import { findWorkspaceBySlug } from '../../workspaces/workspaces.js';
import { loadConfigOrFail } from '../command-runner.js';

/** `portico serve`: the server, until SIGINT or SIGTERM. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the server (what npm start runs)')
    .action(async () => {
      const config = loadConfigOrFail();
      const portico = await startPortico(config);
      const lines = [`Portico is listening on ${portico.address} (database: ${describeDatabaseUrl(config.databaseUrl)}).`];
      if (portico.metricsAddress) lines.push(`Metrics for Prometheus: ${portico.metricsAddress}/metrics`);
      const demo = config.production ? null : await findWorkspaceBySlug(portico.context.db, 'demo');
      if (demo) {
        lines.push(
          `Demo workspace "${demo.name}"${portico.demoWorkspace ? ' created' : ''}: ${demo.url}`,
          `  Sign in at ${demo.url}/magic-login as ${demoClientEmail}`,
        );
      }
      if (portico.devMailbox) {
        lines.push(
          `No SMTP_URL is set: sign-in emails go to the dev mailbox at <workspace address>/_dev/mailbox${demo ? ` (${demo.url}/_dev/mailbox)` : ''} and to this console.`,
          '  The dev mailbox answers only browsers on this machine (loopback, not through a proxy); from anywhere else it is a 404.',
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      const shutdown = async () => {
        await portico.stop();
        process.exit(0);
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}
