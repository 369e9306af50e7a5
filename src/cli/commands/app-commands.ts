import type { Command } from 'commander';
import { addApp, describeApp, listApps, removeApp } from '../../apps/apps.js';
import { requireWorkspaceBySlug } from '../../workspaces/workspaces.js';
import { runDatabaseCommand } from '../command-runner.js';

type AppOptions = { workspace: string; json?: boolean };

const collect = (value: string, previous: string[]) => [...previous, value];

/** `portico app add|list|remove`: the apps that rely on a workspace's sign-in (OpenID Connect). */
export function registerAppCommands(program: Command): void {
  const app = program.command('app').description('register the apps that rely on a workspace’s sign-in (OpenID Connect)');

  app
    .command('add')
    .description('register an app; prints its client id and, once, its secret')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--name <name>', 'the app’s name')
    .option('--redirect-uri <uri>', 'where the app receives sign-ins, exactly as it sends it (repeat for several)', collect, [])
    .option('--post-logout-redirect-uri <uri>', 'where the app may send the client after signing out (repeat for several)', collect, [])
    .option('--public', 'an app that cannot keep a secret (a single-page or mobile app): PKCE alone')
    .option('--json', 'print JSON')
    .action((options: AppOptions & { name: string; redirectUri: string[]; postLogoutRedirectUri: string[]; public?: boolean }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          const { app: added, clientSecret } = await addApp(context.db, context.clock, workspace, {
            name: options.name,
            redirectUris: options.redirectUri,
            postLogoutRedirectUris: options.postLogoutRedirectUri,
            public: options.public === true,
          });
          const { postLogoutRedirectUris: _postLogout, ...shown } = describeApp(added);
          return { ...shown, ...(clientSecret === null ? {} : { clientSecret }), issuer: workspace.url };
        },
        (added) =>
          [
            `Registered "${added.name}" on ${added.issuer}`,
            `  issuer:        ${added.issuer}`,
            `  client id:     ${added.clientId}`,
            added.public ? '  public app:    no secret; it must use PKCE (S256)' : `  client secret: ${added.clientSecret}`,
            ...(added.public ? [] : ['The secret is shown only now: Portico keeps only its hash.']),
          ].join('\n'),
      ),
    );

  app
    .command('list')
    .description('list the apps of a workspace')
    .requiredOption('--workspace <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action((options: AppOptions) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          return (await listApps(context.db, workspace)).map(describeApp).map(({ postLogoutRedirectUris: _postLogout, ...shown }) => shown);
        },
        (apps) => (apps.length === 0 ? 'No apps yet.' : apps.map((a) => `${a.clientId}\t${a.name}\t${a.public ? 'public' : 'confidential'}\t${a.redirectUris.join(' ')}`).join('\n')),
      ),
    );

  app
    .command('remove')
    .description('remove an app: its tokens stop working at once')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--client-id <id>', 'the app’s client id')
    .option('--json', 'print JSON')
    .action((options: AppOptions & { clientId: string }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          await removeApp(context.db, workspace, options.clientId);
          return { clientId: options.clientId, removed: true };
        },
        (removed) => `Removed the app ${removed.clientId}; its tokens no longer work`,
      ),
    );
}
