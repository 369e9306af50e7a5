import type { Command } from 'commander';
import { createWorkspace, describeWorkspace, listWorkspaces, requireWorkspaceBySlug, updateWorkspace, workspaceLimitOptions, type WorkspaceLimitOption } from '../../workspaces/workspaces.js';
import { rotateSigningKeys } from '../../apps/oidc/signing-keys.js';
import { retiredKeyLifetimeMs } from '../../apps/oidc/workspace-providers.js';
import { runDatabaseCommand } from '../command-runner.js';

type WorkspaceOptions = { name?: string; url?: string; slug?: string; magicLinkTtl?: string; defaultDoor?: string; json?: boolean };

/** `portico workspace create|update|list`. */
export function registerWorkspaceCommands(program: Command): void {
  const workspace = program.command('workspace').description('create, change and list workspaces');

  workspace
    .command('create')
    .description('create a workspace served at its own address')
    .requiredOption('--name <name>', 'the name clients see')
    .requiredOption('--url <origin>', 'the address clients use: scheme://host[:port]')
    .option('--slug <slug>', 'short id for the CLI (default: made from the name)')
    .option('--magic-link-ttl <duration>', 'how long sign-in links stay valid, 1m to 60m', '15m')
    .option('--default-door <door>', 'where signed-out visitors of / go: email (sign-in link) or password', 'email')
    .option('--json', 'print JSON')
    .action((options: WorkspaceOptions & { name: string; url: string }) =>
      runDatabaseCommand(
        options,
        async (context) => describeWorkspace(await createWorkspace(context.db, context.clock, options)),
        (created) => `Created workspace "${created.slug}" (${created.name}) at ${created.url}`,
      ),
    );

  workspace
    .command('update')
    .description('change a workspace')
    .argument('<slug>', 'the workspace to change')
    .option('--name <name>', 'the name clients see')
    .option('--url <origin>', 'the address clients use: scheme://host[:port]')
    .option('--magic-link-ttl <duration>', 'how long sign-in links stay valid, 1m to 60m')
    .option('--default-door <door>', 'where signed-out visitors of / go: email (sign-in link) or password')
    .option('--limit-email-cooldown <duration>', 'least time between two emails to one address, or "default"')
    .option('--limit-email-per-hour <n>', 'emails to one address per hour, or "default"')
    .option('--limit-ip-per-minute <n>', 'POSTs per client IP per minute on each door, or "default"')
    .option('--limit-ip-redemptions-per-5-minutes <n>', 'link redemptions per client IP per 5 minutes, or "default"')
    .option('--limit-workspace-emails-per-hour <n>', 'sign-in and reset emails the workspace may send per hour, or "default"')
    .option('--json', 'print JSON')
    .action((slug: string, options: WorkspaceOptions & Partial<Record<WorkspaceLimitOption, string>>) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const limits = Object.fromEntries(Object.keys(workspaceLimitOptions).map((option) => [option, options[option as WorkspaceLimitOption]]));
          return describeWorkspace(await updateWorkspace(context.db, slug, { ...options, limits }));
        },
        (updated) => `Updated workspace "${updated.slug}" (${updated.name}) at ${updated.url}`,
      ),
    );

  workspace
    .command('rotate-keys')
    .description('add a new key for signing ID tokens; the old ones stay published until what they signed has expired')
    .argument('<slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action((slug: string, options: { json?: boolean }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const found = await requireWorkspaceBySlug(context.db, slug);
          const rotated = await rotateSigningKeys(context.db, context.clock, found.id, retiredKeyLifetimeMs);
          return { slug, kid: rotated.kid, retiring: rotated.retiring.map((key) => ({ kid: key.kid, retireAt: new Date(key.retireAt).toISOString() })) };
        },
        (rotated) =>
          [`New signing key ${rotated.kid} for "${rotated.slug}"; the running servers sign with it within a second`, ...rotated.retiring.map((key) => `  ${key.kid} stays published until ${key.retireAt}`)].join('\n'),
      ),
    );

  workspace
    .command('list')
    .description('list every workspace')
    .option('--json', 'print JSON')
    .action((options: WorkspaceOptions) =>
      runDatabaseCommand(
        options,
        async (context) => (await listWorkspaces(context.db)).map(describeWorkspace),
        (workspaces) => (workspaces.length === 0 ? 'No workspaces yet.' : workspaces.map((w) => `${w.slug}\t${w.name}\t${w.url}`).join('\n')),
      ),
    );
}
