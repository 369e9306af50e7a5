import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as commonLanguage from '@zxcvbn-ts/language-common';
import * as englishLanguage from '@zxcvbn-ts/language-en';

export const minPasswordLength = 15;
export const maxPasswordLength = 256;

export type PasswordRuleResult = { ok: true } | { ok: false; reason: string };

let estimator: ZxcvbnFactory | null = null;

/** Built on first use: loading the breached-password dictionaries takes ~200 ms, not worth paying at start-up. */
function passwordEstimator(): ZxcvbnFactory {
  estimator ??= new ZxcvbnFactory({
    dictionary: { ...commonLanguage.dictionary, ...englishLanguage.dictionary },
    graphs: commonLanguage.adjacencyGraphs,
    translations: englishLanguage.translations,
  });
  return estimator;
}

/**
 * NIST SP 800-63B-4 rules for a single-factor password: 15 to 256 characters, kept whole (no
 * truncation), no composition rules, and refused when common, breached, repetitive or built from
 * the account's own words (zxcvbn's dictionaries and pattern matching). Each refusal says what to change.
 */
export function checkNewPassword(password: unknown, contextWords: string[] = []): PasswordRuleResult {
  if (typeof password !== 'string' || password.length === 0) return { ok: false, reason: `Choose a password of at least ${minPasswordLength} characters.` };
  const length = [...password].length;
  if (length < minPasswordLength) {
    return { ok: false, reason: `Use at least ${minPasswordLength} characters (this one has ${length}). A few unrelated words make a long password easy to remember.` };
  }
  if (length > maxPasswordLength) return { ok: false, reason: `Use at most ${maxPasswordLength} characters (this one has ${length}).` };
  const result = passwordEstimator().check(password, contextWords);
  if (result.score < 3) {
    const warning = result.feedback.warning ?? 'This password is easy to guess.';
    return { ok: false, reason: `${warning} Choose something less predictable, such as a few unrelated words.` };
  }
  return { ok: true };
}
