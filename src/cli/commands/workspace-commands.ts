import { open } from 'node:fs/promises';
import type { Command } from 'commander';
import { maxLogoBytes } from '../../workspaces/workspace-logo.js';
import {
  createWorkspace,
  describeWorkspace,
  isClearWord,
  listWorkspaces,
  requireWorkspaceBySlug,
  updateWorkspace,
  workspaceLimitOptions,
  type WorkspaceInput,
  type WorkspaceLimitOption,
} from '../../workspaces/workspaces.js';
import { rotateSigningKeys } from '../../apps/oidc/signing-keys.js';
import { retiredKeyLifetimeMs } from '../../apps/oidc/workspace-providers.js';
import { CommandFailure, runDatabaseCommand } from '../command-runner.js';

type WorkspaceOptions = { name?: string; url?: string; slug?: string; magicLinkTtl?: string; defaultDoor?: string; json?: boolean };
type BrandingOptions = { logo?: string; accentColor?: string; mailFrom?: string; replyTo?: string; supportEmail?: string; locale?: string };

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
    .option('--logo <file>', 'a PNG, JPEG or WebP image shown on pages and in mail, at most 512 KB, or "none"')
    .option('--accent-color <#RRGGBB>', 'the colour of buttons and links, or "none" for Portico\'s blue')
    .option('--mail-from <sender>', 'the sender of mail: "Name <address>" or an address, or "none" for MAIL_FROM')
    .option('--reply-to <address>', 'where replies to mail go, or "none"')
    .option('--support-email <address>', 'shown on error pages as where to ask for help, or "none"')
    .option('--locale <locale>', 'the language for browsers that prefer none Portico ships: en, de, fr, es, nl or pt-BR')
    .option('--json', 'print JSON')
    .action((slug: string, options: WorkspaceOptions & BrandingOptions & Partial<Record<WorkspaceLimitOption, string>>) =>
      runDatabaseCommand(
        options,
        async (context) => {
          const limits = Object.fromEntries(Object.keys(workspaceLimitOptions).map((option) => [option, options[option as WorkspaceLimitOption]]));
          const logo = options.logo === undefined ? undefined : await readLogoFile(options.logo);
          return describeWorkspace(await updateWorkspace(context.db, slug, { ...options, limits, logo }, context.clock.now()));
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

  workspace
    .command('describe')
    .description("show one workspace's settings and branding")
    .argument('<slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action((slug: string, options: { json?: boolean }) =>
      runDatabaseCommand(options, async (context) => describeWorkspace(await requireWorkspaceBySlug(context.db, slug)), describeSettings),
    );
}

/** `--logo FILE`: the bytes of a file, pipe or FIFO for the workspaces domain to check, or null for `none`. Read no further than a logo may be long. */
async function readLogoFile(path: string): Promise<WorkspaceInput['logo']> {
  if (isClearWord(path)) return null;
  try {
    const file = await open(path, 'r');
    try {
      // One byte past the limit is enough for the domain to refuse a file too large, and no more is
      // read from an endless stream (/dev/zero). Read on from where the file stands, never at an
      // offset: a pipe (`--logo <(…)`, /dev/stdin) or FIFO cannot seek (ESPIPE), and gives what it
      // holds at each read, so read until the buffer is full or the writer is done.
      const buffer = Buffer.alloc(maxLogoBytes + 1);
      let length = 0;
      while (length < buffer.length) {
        const { bytesRead } = await file.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      return { bytes: buffer.subarray(0, length), fileName: path };
    } finally {
      await file.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CommandFailure(`--logo ${path} cannot be read: ${code === 'ENOENT' ? 'there is no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (code ?? 'unknown error')}`);
  }
}

/** One setting a line, as `workspace describe` prints it. */
function describeSettings(workspace: ReturnType<typeof describeWorkspace>): string {
  const lines: [string, string | null][] = [
    ['slug', workspace.slug],
    ['name', workspace.name],
    ['url', workspace.url],
    ['magic link ttl', workspace.magicLinkTtl],
    ['default door', workspace.defaultDoor],
    ['locale', workspace.locale],
    ['accent color', workspace.accentColor ?? 'none (Portico blue)'],
    ['logo', workspace.logoUrl ?? 'none'],
    ['mail from', workspace.mailFrom ?? 'none (MAIL_FROM)'],
    ['reply to', workspace.replyTo ?? 'none'],
    ['support email', workspace.supportEmail ?? 'none'],
    ...Object.entries(workspace.limits).map(([option, value]): [string, string] => [option, String(value)]),
  ];
  return lines.map(([label, value]) => `${label}:\t${value}`).join('\n');
}
