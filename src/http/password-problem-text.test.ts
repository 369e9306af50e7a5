import { describe, expect, it } from 'vitest';
import { translatorFor } from '../i18n/translator.js';
import { describePasswordProblem } from './password-problem-text.js';

describe('describePasswordProblem', () => {
  // Review finding: zxcvbn's French and Spanish packs leave some warnings without a full stop, and
  // the message goes on with a sentence of its own, so the two ran together.
  it.each([
    ['fr', 'simpleRepeat', "Les caractères répétés comme 'aaa' sont faciles à deviner. Choisissez"],
    ['es', 'sequences', 'Patrones comunes como "abc" son fáciles de adivinar. Elija'],
  ] as const)('ends a %s warning (%s) with a full stop before the next sentence', async (locale, warning, expected) => {
    expect(await describePasswordProblem(translatorFor(locale), { code: 'guessable', warning })).toContain(expected);
  });

  it('keeps a warning that has its stop as it is', async () => {
    const text = await describePasswordProblem(translatorFor('en'), { code: 'guessable', warning: 'commonPasswords' });
    expect(text).toMatch(/^[^.]*\.\s+Choose something less predictable/);
    expect(text).not.toContain('..');
  });
});
