import { loadConfig, type Config } from '../config.js';
import { createPorticoContext, type PorticoContext } from '../context.js';
import { isAppError } from '../errors.js';
import { openDatabase } from '../storage/database.js';
import { redactDatabaseUrl } from '../storage/database-url.js';
import { refusedNameCharacter } from '../shared/one-line-name.js';

/** Thrown to end a command with a one-line message and a non-zero exit. */
export class CommandFailure extends Error {}

/** Thrown to end a command with one line per problem. */
export class CommandFailures extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** Loads config or ends the command with one line per problem, each naming its variable. */
export function loadConfigOrFail(): Config {
  const result = loadConfig();
  if (!result.ok) throw new CommandFailures(result.problems.map(escapeControlCharacters));
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
    const context = createPorticoContext(database, config);
    const result = await work(context);
    process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${describe(result)}\n`);
  } finally {
    await database.close();
  }
}

/**
 * What the CLI prints for a failure: one line (one per problem for bad configuration), with what
 * the user typed escaped so it cannot break the line or drive the terminal. Never a stack trace.
 */
export function describeFailure(error: unknown): string {
  if (error instanceof CommandFailures) return error.problems.join('\n');
  if (error instanceof CommandFailure || isAppError(error)) return escapeControlCharacters(error.message);
  return escapeControlCharacters(`unexpected failure: ${describeCause(error)}`);
}

/** The characters no name may hold, every one of them in a text. */
const refusedNameCharacters = new RegExp(refusedNameCharacter.source, 'gu');

/**
 * `a\nb` → `a\\nb`, other control characters as `\\xNN`, line separators and text-direction
 * overrides as `\\uNNNN`: what a name may not hold is not printed as itself either.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(refusedNameCharacters, (character) => {
    if (character === '\n') return '\\n';
    const code = character.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
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
