import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

export const minPasswordLength = 15;
export const maxPasswordLength = 256;

export type PasswordRuleResult = { ok: true } | { ok: false; reason: string };

let estimator: Promise<ZxcvbnFactory> | null = null;

/**
 * Loaded on first use: the breached-password dictionaries take ~200 ms and ~37 MB of memory,
 * which a server whose clients sign in by link may never need.
 */
function passwordEstimator(): Promise<ZxcvbnFactory> {
  estimator ??= (async () => {
    const [{ ZxcvbnFactory }, commonLanguage, englishLanguage] = await Promise.all([
      import('@zxcvbn-ts/core'),
      import('@zxcvbn-ts/language-common'),
      import('@zxcvbn-ts/language-en'),
    ]);
    return new ZxcvbnFactory({
      dictionary: { ...commonLanguage.dictionary, ...englishLanguage.dictionary },
      graphs: commonLanguage.adjacencyGraphs,
      translations: englishLanguage.translations,
    });
  })();
  return estimator;
}

/**
 * NIST SP 800-63B-4 rules for a single-factor password: 15 to 256 characters, kept whole (no
 * truncation), no composition rules, and refused when common, breached, repetitive or built from
 * the account's own words (zxcvbn's dictionaries and pattern matching). Each refusal says what to change.
 */
export async function checkNewPassword(password: unknown, contextWords: string[] = []): Promise<PasswordRuleResult> {
  if (typeof password !== 'string' || password.length === 0) return { ok: false, reason: `Choose a password of at least ${minPasswordLength} characters.` };
  const length = [...password].length;
  if (length < minPasswordLength) {
    return { ok: false, reason: `Use at least ${minPasswordLength} characters (this one has ${length}). A few unrelated words make a long password easy to remember.` };
  }
  if (length > maxPasswordLength) return { ok: false, reason: `Use at most ${maxPasswordLength} characters (this one has ${length}).` };
  const result = (await passwordEstimator()).check(password, contextWords);
  if (result.score < 3) {
    const warning = result.feedback.warning ?? 'This password is easy to guess.';
    return { ok: false, reason: `${warning} Choose something less predictable, such as a few unrelated words.` };
  }
  return { ok: true };
}
