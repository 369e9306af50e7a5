import { createHmac, randomInt } from 'node:crypto';
import { constantTimeEqual } from '../crypto/tokens.js';

/*
 * The one-time code mailed beside a sign-in link (issue 17 item 1): 10 random digits, shown in two
 * groups of five. Digits, so a phone shows its number pad; ten of them, so that guessing stays
 * hopeless at the default limits (SECURITY.md, "Guessing a sign-in code", has the sum).
 */

export const signInCodeDigits = 10;

/** Guesses compared against one code before it is dead (the contract's "at most 10"). */
export const maxGuessesPerCode = 10;

/** A fresh code from the system's CSPRNG, uniform over all 10^10 values. */
export function generateSignInCode(): string {
  return String(randomInt(0, 10 ** signInCodeDigits)).padStart(signInCodeDigits, '0');
}

/** As the email shows it: `48291 37750`. */
export function formatSignInCode(code: string): string {
  return `${code.slice(0, 5)} ${code.slice(5)}`;
}

/**
 * What a person typed or pasted, as a code: spaces, hyphens and dashes of any kind, dots and letter
 * case do not matter. Null when it cannot be a code (wrong length, other characters), so a typo in
 * its shape is named before any guess is spent on it.
 */
export function normalizeTypedSignInCode(typed: unknown): string | null {
  if (typeof typed !== 'string' || typed.length > 64) return null;
  const compact = typed.replace(/[\s\u00a0\u2010-\u2015.-]/g, '').toUpperCase();
  return new RegExp(`^[0-9]{${signInCodeDigits}}$`).test(compact) ? compact : null;
}

/**
 * A code as the database keeps it: HMAC-SHA-256 under `key` (SIGN_IN_CODE_KEY), never the code.
 * Ten digits hashed without a key would be found from a stolen database by trying all 10^10 in
 * seconds; under a key kept out of the database they cannot be (SECURITY.md says what is left
 * when no key is set). Unsalted on purpose: the same code hashes alike, so a refused code can be
 * explained by looking its hash up.
 */
export function hashSignInCode(key: string, code: string): string {
  return createHmac('sha256', key).update(`portico sign-in code:${code}`, 'utf8').digest('base64url');
}

/** Compares a typed code's hash with a stored one in constant time. */
export function signInCodeHashesMatch(typedHash: string, storedHash: string | null): boolean {
  return storedHash !== null && constantTimeEqual(typedHash, storedHash);
}
