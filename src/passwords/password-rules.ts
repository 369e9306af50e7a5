import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import type { Locale } from '../i18n/locales.js';

export const minPasswordLength = 15;
export const maxPasswordLength = 256;

/**
 * Why a new password is refused, for a page to say in its own language. `warning` is zxcvbn's key
 * for what makes it guessable (`common`, `simpleRepeat`…), null when zxcvbn names nothing.
 */
export type PasswordProblem =
  | { code: 'missing'; min: number }
  | { code: 'too_short'; min: number; length: number }
  | { code: 'too_long'; max: number; length: number }
  | { code: 'guessable'; warning: string | null };

/** `reason` is the English sentence the CLI prints; pages say `problem` in their own language. */
export type PasswordRuleResult = { ok: true } | { ok: false; problem: PasswordProblem; reason: string };

type ZxcvbnTranslations = { warnings: Record<string, string> };

let estimator: Promise<ZxcvbnFactory> | null = null;

/**
 * Loaded on first use: the breached-password dictionaries take ~200 ms and ~37 MB of memory,
 * which a server whose clients sign in by link may never need. Built without translations, its
 * warnings are keys, said in each page's language by passwordWarningIn.
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
    });
  })();
  return estimator;
}

/**
 * zxcvbn's language packs, for its warnings only (the dictionaries stay English and common: the
 * breached-password lists are what matter, whatever the page's language). Each is loaded the first
 * time a password is refused in its language. Dutch is the Belgian pack, the only Dutch one.
 */
const warningPacks: Record<Locale, () => Promise<{ translations: ZxcvbnTranslations }>> = {
  en: () => import('@zxcvbn-ts/language-en'),
  de: () => import('@zxcvbn-ts/language-de'),
  fr: () => import('@zxcvbn-ts/language-fr'),
  es: () => import('@zxcvbn-ts/language-es-es'),
  nl: () => import('@zxcvbn-ts/language-nl-be'),
  'pt-BR': () => import('@zxcvbn-ts/language-pt-br'),
};

/** zxcvbn's warning `key` in `locale`'s words, or null when its pack has none. */
export async function passwordWarningIn(locale: Locale, key: string): Promise<string | null> {
  const { translations } = await warningPacks[locale]();
  return translations.warnings[key] ?? null;
}

/**
 * NIST SP 800-63B-4 rules for a single-factor password: 15 to 256 characters, kept whole (no
 * truncation), no composition rules, and refused when common, breached, repetitive or built from
 * the account's own words (zxcvbn's dictionaries and pattern matching). Each refusal says what to change.
 */
export async function checkNewPassword(password: unknown, contextWords: string[] = []): Promise<PasswordRuleResult> {
  if (typeof password !== 'string' || password.length === 0) {
    return { ok: false, problem: { code: 'missing', min: minPasswordLength }, reason: `Choose a password of at least ${minPasswordLength} characters.` };
  }
  const length = [...password].length;
  if (length < minPasswordLength) {
    return {
      ok: false,
      problem: { code: 'too_short', min: minPasswordLength, length },
      reason: `Use at least ${minPasswordLength} characters (this one has ${length}). A few unrelated words make a long password easy to remember.`,
    };
  }
  if (length > maxPasswordLength) {
    return { ok: false, problem: { code: 'too_long', max: maxPasswordLength, length }, reason: `Use at most ${maxPasswordLength} characters (this one has ${length}).` };
  }
  const result = (await passwordEstimator()).check(password, contextWords);
  if (result.score < 3) {
    const key = result.feedback.warning || null;
    const warning = (key && (await passwordWarningIn('en', key))) ?? 'This password is easy to guess.';
    return { ok: false, problem: { code: 'guessable', warning: key }, reason: `${warning} Choose something less predictable, such as a few unrelated words.` };
  }
  return { ok: true };
}
