import type { Command } from 'commander';
import { AppError } from '../../errors.js';
import { listAuditEvents } from '../../events/audit-events.js';
import { requireWorkspaceBySlug } from '../../workspaces/workspaces.js';
import { runDatabaseCommand } from '../command-runner.js';

/** `portico events`: the audit log of a workspace, newest first. */
export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('print the audit log of a workspace, newest first')
    .requiredOption('--workspace <slug>', 'the workspace')
    .option('--limit <n>', 'how many events, 1 to 1000', '50')
    .option('--json', 'print JSON')
    .action((options: { workspace: string; limit: string; json?: boolean }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          if (!/^\d+$/.test(options.limit) || Number(options.limit) < 1 || Number(options.limit) > 1000) {
            throw new AppError('LIMIT_INVALID', { message: `--limit "${options.limit}" is not a whole number from 1 to 1000` });
          }
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          return listAuditEvents(context.db, workspace.id, Number(options.limit));
        },
        (events) =>
          events.length === 0
            ? 'No events yet.'
            : events
                .map(({ at, type, email, ip, ...detail }) =>
                  [at, type, email ?? '-', ip ?? '-', Object.entries(detail).map(([key, value]) => `${key}=${String(value)}`).join(' ')].join('\t').trimEnd(),
                )
                .join('\n'),
      ),
    );
}
