import { describe, expect, it } from 'vitest';
import { nameCharacterProblem, readOneLineName } from './one-line-name.js';

// Names are shown in pages, mail subjects and CLI output: a character that reorders or breaks the
// text let a name masquerade as another (CVE-2021-42574, "Trojan Source"), so none may hold one.
describe('names', () => {
  it.each([
    ['an accented name', 'Zoë Müller-Łukasiewicz'],
    ['Hebrew', 'סטודיו אקמה'],
    ['Arabic', 'استوديو أكمي'],
    ['Hebrew beside Latin', 'Acme אקמה Studio'],
    ['CJK', '山田デザイン事務所'],
    ['an emoji joined by U+200D', 'Acme 👩‍💻 Studio'],
    ['a flag', 'Acme 🇵🇹'],
  ])('keeps %s', (_what, name) => {
    expect(nameCharacterProblem(name)).toBeNull();
    expect(readOneLineName(` ${name} `)).toEqual({ ok: true, name });
  });

  it.each([
    ['U+202E right-to-left override', 'Acme\u202Eevil', 'U+202E'],
    ['U+202A left-to-right embedding', '\u202AAcme', 'U+202A'],
    ['U+202B right-to-left embedding', 'Acme\u202B', 'U+202B'],
    ['U+202C pop directional formatting', 'Ac\u202Cme', 'U+202C'],
    ['U+202D left-to-right override', 'Ac\u202Dme', 'U+202D'],
    ['U+2066 left-to-right isolate', 'Ac\u2066me', 'U+2066'],
    ['U+2067 right-to-left isolate', 'Ac\u2067me', 'U+2067'],
    ['U+2068 first strong isolate', 'Ac\u2068me', 'U+2068'],
    ['U+2069 pop directional isolate', 'Ac\u2069me', 'U+2069'],
    ['U+2028 line separator', 'Acme\u2028Bcc: x', 'U+2028'],
    ['U+2029 paragraph separator', 'Acme\u2029Studio', 'U+2029'],
    ['a line feed', 'Acme\nStudio', 'U+000A'],
    ['a tab', 'Acme\tStudio', 'U+0009'],
    ['NUL', 'Acme\u0000', 'U+0000'],
    ['an escape', 'Acme\u001b[31m', 'U+001B'],
    ['DEL', 'Acme\u007f', 'U+007F'],
    ['U+0085 next line (C1)', 'Acme\u0085Studio', 'U+0085'],
    ['U+009B control sequence introducer (C1)', 'Acme\u009b31m', 'U+009B'],
  ])('refuses %s, naming the character', (_what, name, codePoint) => {
    const problem = nameCharacterProblem(name);
    expect(problem).toContain(codePoint);
    expect(readOneLineName(name)).toEqual({ ok: false, problem });
  });

  it('says what a text-direction override does, and that a line break makes two lines', () => {
    expect(nameCharacterProblem('Acme\u202Eevil')).toBe('holds U+202E, which changes the direction of the text after it and can make a name read as another; remove it');
    expect(nameCharacterProblem('Acme\u2028Studio')).toBe('holds a line break (U+2028); a name is one line');
  });

  it('keeps the length rule: 1 to 100 characters once trimmed', () => {
    expect(readOneLineName('   ')).toEqual({ ok: false, problem: 'is not 1 to 100 characters long' });
    expect(readOneLineName('x'.repeat(101))).toEqual({ ok: false, problem: 'is not 1 to 100 characters long' });
    expect(readOneLineName(` ${'x'.repeat(100)} `)).toEqual({ ok: true, name: 'x'.repeat(100) });
  });
});
