import type { Algorithm } from '@node-rs/argon2';
import { ConcurrencyLimit } from '../shared/concurrency-limit.js';
import { generateSecretToken } from './tokens.js';

/** OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane. */
export const passwordHashParameters = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const argon2id = 2 as Algorithm;

let argon2: Promise<typeof import('@node-rs/argon2')> | null = null;

/** Loaded on first use (~14 MB): a server whose clients all sign in by link never needs it. */
function loadArgon2() {
  argon2 ??= import('@node-rs/argon2');
  return argon2;
}

async function hash(password: string, options: Parameters<(typeof import('@node-rs/argon2'))['hash']>[1]): Promise<string> {
  return (await loadArgon2()).hash(password, options);
}

async function verify(passwordHash: string, password: string): Promise<boolean> {
  return (await loadArgon2()).verify(passwordHash, password);
}

// Hashing runs on libuv's thread pool (4 threads), never on the event loop. At most 4 at once keeps
// a login flood to 4 × 19 MiB; the rest queue.
const hashingSlots = new ConcurrencyLimit(4);

/** Hashes a password with argon2id into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`). */
export async function hashPassword(password: string): Promise<string> {
  return hashingSlots.run(() => hash(password, { algorithm: argon2id, ...passwordHashParameters }));
}

/** Checks a password against a PHC string; a malformed hash counts as no match. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return hashingSlots.run(() => verify(passwordHash, password).catch(() => false));
}

/** True when a hash was made with weaker parameters than today's, so it is redone at the next sign-in. */
export function passwordHashNeedsUpgrade(passwordHash: string): boolean {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash);
  if (!match) return true;
  const [memoryCost, timeCost, parallelism] = match.slice(1).map(Number) as [number, number, number];
  return memoryCost < passwordHashParameters.memoryCost || timeCost < passwordHashParameters.timeCost || parallelism < passwordHashParameters.parallelism;
}

let dummyHash: Promise<string> | null = null;

/**
 * Spends the same work as checking a real password, for an unknown email or a client without a
 * password, so the answer's timing does not tell which it was (better-auth's habit, OWASP ASVS 6.3).
 */
export async function verifyAgainstDummyPassword(password: string): Promise<false> {
  dummyHash ??= hash(generateSecretToken(), { algorithm: argon2id, ...passwordHashParameters });
  await verifyPassword(await dummyHash, password);
  return false;
}
