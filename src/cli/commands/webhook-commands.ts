import type { Command } from 'commander';
import { AppError } from '../../errors.js';
import { listWebhookAttempts } from '../../webhooks/webhook-deliveries.js';
import { addWebhookEndpoint, describeWebhookEndpoint, listWebhookEndpoints, queueWebhookTest, removeWebhookEndpoint } from '../../webhooks/webhook-endpoints.js';
import { requireWorkspaceBySlug } from '../../workspaces/workspaces.js';
import { runDatabaseCommand } from '../command-runner.js';

type WebhookOptions = { workspace: string; json?: boolean };

/** `portico webhook add|list|remove|test|deliveries`: a workspace's signed webhooks. */
export function registerWebhookCommands(program: Command): void {
  const webhook = program.command('webhook').description('manage the signed webhooks of a workspace');

  webhook
    .command('add')
    .description('add an endpoint; prints its signing secret once')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--url <url>', 'where events are POSTed, such as https://crm.example.com/portico-events')
    .option('--events <types>', 'comma-separated event types (default: all)')
    .option('--json', 'print JSON')
    .action((options: WebhookOptions & { url: string; events?: string }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          const { endpoint, secret } = await addWebhookEndpoint(context.db, context.clock, workspace, { url: options.url, events: options.events }, { allowPrivate: context.config.webhooks.allowPrivate });
          return { ...describeWebhookEndpoint(endpoint), secret };
        },
        (added) =>
          [
            `Added the webhook endpoint ${added.id} of the workspace "${options.workspace}": ${added.url} (${added.events.join(', ')})`,
            `  ${added.secret}`,
            'The signing secret is shown only now. Verify each delivery with it (README, "Webhooks"); portico webhook test sends one to try.',
          ].join('\n'),
      ),
    );

  webhook
    .command('list')
    .description('list the endpoints of a workspace (never their secrets)')
    .requiredOption('--workspace <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action((options: WebhookOptions) =>
      runDatabaseCommand(
        options,
        async (context) => (await listWebhookEndpoints(context.db, await requireWorkspaceBySlug(context.db, options.workspace))).map(describeWebhookEndpoint),
        (endpoints) =>
          endpoints.length === 0 ? 'No webhook endpoints yet.' : endpoints.map((endpoint) => [endpoint.id, endpoint.url, endpoint.events.join(','), `added ${endpoint.createdAt}`].join('\t')).join('\n'),
      ),
    );

  webhook
    .command('remove')
    .description('remove an endpoint: nothing more is sent to it, pending deliveries included')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--id <id>', 'the endpoint’s id, as webhook list shows it')
    .option('--json', 'print JSON')
    .action((options: WebhookOptions & { id: string }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const removed = await removeWebhookEndpoint(context.db, await requireWorkspaceBySlug(context.db, options.workspace), options.id);
          return { id: removed.id, url: removed.url, removed: true };
        },
        (removed) => `Removed the webhook endpoint ${removed.id} (${removed.url})`,
      ),
    );

  webhook
    .command('test')
    .description('queue a webhook.test event to one endpoint; the running server delivers it')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--id <id>', 'the endpoint’s id, as webhook list shows it')
    .option('--json', 'print JSON')
    .action((options: WebhookOptions & { id: string }) =>
      runDatabaseCommand(
        options,
        async (context) => queueWebhookTest(context.db, context.clock, await requireWorkspaceBySlug(context.db, options.workspace), options.id),
        (queued) => `Queued ${queued.type} ${queued.eventId} to ${queued.endpointId}; portico webhook deliveries --workspace ${options.workspace} shows what came of it`,
      ),
    );

  webhook
    .command('deliveries')
    .description('every delivery attempt, newest first')
    .requiredOption('--workspace <slug>', 'the workspace')
    .option('--id <id>', 'only this endpoint’s')
    .option('--limit <n>', 'how many attempts (1 to 1000)', '50')
    .option('--json', 'print JSON')
    .action((options: WebhookOptions & { id?: string; limit: string }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const limit = Number(options.limit);
          if (!/^\d+$/.test(options.limit) || limit < 1 || limit > 1000) throw new AppError('LIMIT_INVALID');
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          return listWebhookAttempts(context.db, workspace, { endpointId: options.id, limit });
        },
        (attempts) =>
          attempts.length === 0
            ? 'No delivery attempts yet.'
            : attempts
                .map((attempt) =>
                  [attempt.at, attempt.eventId, attempt.type, attempt.endpointId, `attempt ${attempt.attempt}`, attempt.statusCode ?? attempt.error, attempt.delivered ? 'delivered' : 'failed'].join('\t'),
                )
                .join('\n'),
      ),
    );
}
