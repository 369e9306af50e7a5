import type { Command } from 'commander';
import { createApiKey, describeApiKey, listApiKeys, revokeApiKey } from '../../api-keys/api-keys.js';
import { requireWorkspaceBySlug } from '../../workspaces/workspaces.js';
import { runDatabaseCommand } from '../command-runner.js';

type ApiKeyOptions = { workspace: string; json?: boolean };

/** `portico api-key create|list|revoke`: keys to a workspace's admin API (`/api/v1/`). */
export function registerApiKeyCommands(program: Command): void {
  const apiKey = program.command('api-key').description('manage the keys to a workspace’s admin API (/api/v1/)');

  apiKey
    .command('create')
    .description('create a key; prints it once')
    .requiredOption('--workspace <slug>', 'the workspace')
    .option('--name <name>', 'what the key is for, such as "CRM sync"')
    .option('--json', 'print JSON')
    .action((options: ApiKeyOptions & { name?: string }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          const { apiKey: created, key } = await createApiKey(context.db, context.clock, workspace, { name: options.name });
          const { id, name, createdAt } = describeApiKey(created);
          return { id, name, key, createdAt };
        },
        (created) =>
          [
            `Created the API key "${created.name}" (${created.id}) for the workspace "${options.workspace}"`,
            `  ${created.key}`,
            'The key is shown only now: Portico keeps only its hash. Send it as Authorization: Bearer KEY to /api/v1/ on the workspace’s address.',
          ].join('\n'),
      ),
    );

  apiKey
    .command('list')
    .description('list the keys of a workspace (never the keys themselves)')
    .requiredOption('--workspace <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action((options: ApiKeyOptions) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          return (await listApiKeys(context.db, workspace)).map(describeApiKey);
        },
        (keys) =>
          keys.length === 0
            ? 'No API keys yet.'
            : keys.map((key) => [key.id, key.name, `created ${key.createdAt}`, key.revokedAt ? `revoked ${key.revokedAt}` : 'active'].join('\t')).join('\n'),
      ),
    );

  apiKey
    .command('revoke')
    .description('revoke a key: its next request is refused')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--id <id>', 'the key’s id, as api-key list shows it')
    .option('--json', 'print JSON')
    .action((options: ApiKeyOptions & { id: string }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          return describeApiKey(await revokeApiKey(context.db, context.clock, workspace, options.id));
        },
        (revoked) => `Revoked the API key "${revoked.name}" (${revoked.id}); it no longer works`,
      ),
    );
}
