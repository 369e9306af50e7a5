import { loadConfig, type Config } from '../config.js';
import type { PorticoContext } from '../context.js';
import { isAppError } from '../errors.js';
import { systemClock } from '../shared/clock.js';
import { openDatabase } from '../storage/database.js';
import { redactDatabaseUrl } from '../storage/database-url.js';

/** Thrown to end a command with a one-line message and a non-zero exit. */
export class CommandFailure extends Error {}

/** Loads config or ends the command with one line per problem, each naming its variable. */
export function loadConfigOrFail(): Config {
  const result = loadConfig();
  if (!result.ok) throw new CommandFailure(result.problems.join('\nportico: '));
  return result.config;
}

/**
 * Runs a command against the database: opens it (applying migrations), runs `work`, closes it, and
 * prints the result as JSON with `--json` or as text through `describe`.
 */
export async function runDatabaseCommand<T>(
  options: { json?: boolean },
  work: (context: PorticoContext) => Promise<T>,
  describe: (result: T) => string,
): Promise<void> {
  const config = loadConfigOrFail();
  const database = await openDatabase(config.databaseUrl).catch((error: unknown) => {
    throw new CommandFailure(`cannot open the database at ${redactDatabaseUrl(config.databaseUrl)}: ${describeCause(error)}`);
  });
  try {
    const context: PorticoContext = { db: database.db, capabilities: database.capabilities, clock: systemClock, config, notifyMailQueued: () => {} };
    const result = await work(context);
    process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${describe(result)}\n`);
  } finally {
    await database.close();
  }
}

/** The one line the CLI prints for a failure; never a stack trace. */
export function describeFailure(error: unknown): string {
  if (error instanceof CommandFailure) return error.message;
  if (isAppError(error)) return error.message;
  return `unexpected failure: ${describeCause(error)}`;
}

function describeCause(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  const text = current instanceof Error ? current.message : String(current);
  return text.split('\n')[0] ?? text;
}


export function requireOption(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new CommandFailure(`${flag} is required`);
  return value;
}
