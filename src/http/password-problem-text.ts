import type { Translator } from '../i18n/translator.js';
import { passwordWarningIn } from '../passwords/password-rules.js';
import type { SetPasswordProblem } from '../passwords/set-password.js';

/**
 * What a password form says for a refused password, in the page's language: fixed text by the
 * problem's code, zxcvbn's warning from its language pack for the page's locale.
 */
export async function describePasswordProblem(i18n: Translator, problem: SetPasswordProblem): Promise<string> {
  switch (problem.code) {
    case 'missing':
      return i18n.t('passwordRules.missing', { min: problem.min });
    case 'too_short':
      return i18n.t('passwordRules.tooShort', { min: problem.min, length: problem.length });
    case 'too_long':
      return i18n.t('passwordRules.tooLong', { max: problem.max, length: problem.length });
    case 'guessable': {
      const warning = (problem.warning && (await passwordWarningIn(i18n.locale, problem.warning))) ?? i18n.t('passwordRules.easyToGuess');
      // Some of zxcvbn's French and Spanish warnings lack their full stop, and the message goes on
      // with a sentence of its own: without one, the two ran together.
      return i18n.t('passwordRules.guessable', { warning: /[.!?…]$/.test(warning.trim()) ? warning.trim() : `${warning.trim()}.` });
    }
    case 'wrong_current':
      return i18n.t('passwordForm.error.wrongCurrent');
    case 'throttled':
      return i18n.t('passwordForm.error.throttled', { wait: i18n.duration(Math.ceil(problem.retryAfterMs / 1000) * 1000) });
  }
}
