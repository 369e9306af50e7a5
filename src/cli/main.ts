import { Command, CommanderError } from 'commander';
import { describeFailure } from './command-runner.js';
import { registerApiKeyCommands } from './commands/api-key-commands.js';
import { registerAppCommands } from './commands/app-commands.js';
import { registerClientCommands } from './commands/client-commands.js';
import { registerEventsCommand } from './commands/events-command.js';
import { registerMigrateCommand } from './commands/migrate-command.js';
import { registerServeCommand } from './commands/serve-command.js';
import { registerWebhookCommands } from './commands/webhook-commands.js';
import { registerWorkspaceCommands } from './commands/workspace-commands.js';

/** The `portico` command line: the same operations the routes use, over the same database. */
export async function runCli(argv: string[]): Promise<number> {
  const program = new Command('portico').description('Portico: sign-in for client portals').exitOverride().configureOutput({ outputError: writeUsageError });
  registerServeCommand(program);
  registerMigrateCommand(program);
  registerWorkspaceCommands(program);
  registerClientCommands(program);
  registerAppCommands(program);
  registerApiKeyCommands(program);
  registerWebhookCommands(program);
  registerEventsCommand(program);
  for (const command of allCommands(program)) {
    command.exitOverride().configureOutput({ outputError: writeUsageError });
  }
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    process.stderr.write(`${describeFailure(error).split('\n').map((line) => `portico: ${line}`).join('\n')}\n`);
    return 1;
  }
}

/** Commander's usage errors, as one line: `unknown command 'lst' (Did you mean list?)`. */
function writeUsageError(text: string, write: (text: string) => void): void {
  write(`portico: ${text.replace(/^error: /, '').trim().replace(/\s*\n+\s*/g, ' ')}\n`);
}

function allCommands(command: Command): Command[] {
  return command.commands.flatMap((child) => [child, ...allCommands(child)]);
}
