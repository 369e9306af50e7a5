import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { addClient, describeClient, disableClient, enableClient, listClients } from '../../clients/clients.js';
import { importClients } from '../../clients/import-clients.js';
import { hashPassword } from '../../crypto/password-hashing.js';
import { AppError } from '../../errors.js';
import { inviteClient } from '../../magic-links/invite-client.js';
import { checkNewPassword } from '../../passwords/password-rules.js';
import { requireWorkspaceBySlug } from '../../workspaces/workspaces.js';
import { escapeControlCharacters, runDatabaseCommand } from '../command-runner.js';

type ClientOptions = { workspace: string; email: string; name?: string; passwordStdin?: boolean; json?: boolean };

/** Reads a password piped to the command: everything on stdin but one trailing line break. */
async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new AppError('PASSWORD_MISSING', { message: 'No password was piped in: use `printf %s "$PASSWORD" | portico client add … --password-stdin`.' });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (password === '') throw new AppError('PASSWORD_MISSING');
  return password;
}

/** `portico client add|invite|import|list|disable|enable`. */
export function registerClientCommands(program: Command): void {
  const client = program.command('client').description('add, invite, import, list, disable and enable the clients of a workspace');

  client
    .command('add')
    .description('add a client to a workspace')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--email <email>', 'the client’s email address')
    .option('--name <name>', 'the client’s name')
    .option('--password-stdin', 'read a password for the client from standard input')
    .option('--json', 'print JSON')
    .action((options: ClientOptions) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          let passwordHash: string | null = null;
          if (options.passwordStdin) {
            const password = await readPasswordFromStdin();
            const rules = await checkNewPassword(password, [options.email, options.name ?? '', workspace.name]);
            if (!rules.ok) throw new AppError('PASSWORD_REJECTED', { message: `The password cannot be used: ${rules.reason}` });
            passwordHash = await hashPassword(password);
          }
          const added = describeClient(await addClient(context.db, context.clock, workspace, { ...options, passwordHash }));
          const { disabled: _disabled, ...shown } = added;
          return shown;
        },
        (added) => `Added ${added.email}${added.name ? ` (${added.name})` : ''} to "${options.workspace}"`,
      ),
    );

  client
    .command('invite')
    .description('add the client when needed and email them a welcome link that signs them in')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--email <email>', 'the client’s email address')
    .option('--name <name>', 'the client’s name, for a new client')
    .option('--json', 'print JSON')
    .action((options: ClientOptions) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          const invitation = await inviteClient(context, workspace, { email: options.email, name: options.name });
          return { ...describeClient(invitation.client), clientAdded: invitation.clientAdded, linkExpiresAt: new Date(invitation.expiresAt).toISOString() };
        },
        (invited) =>
          `Invited ${invited.email}${invited.clientAdded ? ' (new client)' : ''}: the welcome mail is queued and goes out from the running server; its link works until ${invited.linkExpiresAt}`,
      ),
    );

  client
    .command('import')
    .description('add or update clients from a CSV file with the header email,name')
    .requiredOption('--workspace <slug>', 'the workspace')
    .argument('<file>', 'the CSV file')
    .option('--json', 'print JSON')
    .action((file: string, options: { workspace: string; json?: boolean }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
            throw new AppError('IMPORT_FILE_UNREADABLE', { message: `cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.code ?? 'unreadable'}`, cause: error });
          });
          return importClients(context.db, context.clock, workspace, text);
        },
        (report) =>
          [
            `Added ${report.added}, updated ${report.updated}, rejected ${report.rejected.length}.`,
            ...report.rejected.map((row) => `  line ${row.line}: ${escapeControlCharacters(row.reason)}`),
          ].join('\n'),
      ),
    );

  client
    .command('list')
    .description('list the clients of a workspace')
    .requiredOption('--workspace <slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action((options: { workspace: string; json?: boolean }) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          return (await listClients(context.db, workspace)).map(describeClient);
        },
        (clients) =>
          clients.length === 0
            ? 'No clients yet.'
            : clients.map((c) => [c.email, c.name, c.hasPassword ? 'password' : 'no password', c.disabled ? 'disabled' : 'enabled'].join('\t')).join('\n'),
      ),
    );

  client
    .command('disable')
    .description('stop a client from signing in and end their sessions')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--email <email>', 'the client’s email address')
    .option('--json', 'print JSON')
    .action((options: ClientOptions) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          return describeClient(await disableClient(context, context.clock, workspace, { email: options.email }));
        },
        (disabled) => `Disabled ${disabled.email}: they can no longer sign in, and their sessions have ended`,
      ),
    );

  client
    .command('enable')
    .description('let a disabled client sign in again')
    .requiredOption('--workspace <slug>', 'the workspace')
    .requiredOption('--email <email>', 'the client’s email address')
    .option('--json', 'print JSON')
    .action((options: ClientOptions) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const workspace = await requireWorkspaceBySlug(context.db, options.workspace);
          return describeClient(await enableClient(context.db, context.clock, workspace, { email: options.email }));
        },
        (enabled) => `Enabled ${enabled.email}: they can sign in again`,
      ),
    );
}
