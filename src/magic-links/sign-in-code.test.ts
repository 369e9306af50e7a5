import { describe, expect, it } from 'vitest';
import { formatSignInCode, generateSignInCode, hashSignInCode, normalizeTypedSignInCode, signInCodeHashesMatch } from './sign-in-code.js';

describe('sign-in codes', () => {
  it('are 10 digits, shown in two groups of five, within the contract (6 to 10 digits or capitals)', () => {
    for (let index = 0; index < 200; index += 1) {
      const code = generateSignInCode();
      expect(code).toMatch(/^[0-9]{10}$/);
      expect(formatSignInCode(code)).toMatch(/^[0-9]{5} [0-9]{5}$/);
    }
  });

  it('reads what was typed or pasted whatever its separators and case', () => {
    for (const typed of ['4829137750', '48291 37750', ' 48291-37750 ', '4829 1377 50', '48291\u00a037750', '48291\u201337750', '482.913.7750']) {
      expect(normalizeTypedSignInCode(typed)).toBe('4829137750');
    }
    for (const typed of ['', '482913775', '48291377501', 'abcdefghij', '48291 3775O', undefined, 42, ['4829137750'], '1'.repeat(65)]) {
      expect(normalizeTypedSignInCode(typed)).toBeNull();
    }
  });

  it('keeps a keyed hash: known answer, different under another key, compared exactly', () => {
    // Known answer, computed apart with Python's hmac module: HMAC-SHA-256("test key", "portico sign-in code:0000000000"), base64url.
    expect(hashSignInCode('test key', '0000000000')).toBe('ToeTQ9yPBudNZr8MCsJx2Gl3lVwNjH1GFxDdFUEEKUo');
    expect(hashSignInCode('other key', '0000000000')).not.toBe(hashSignInCode('test key', '0000000000'));
    const stored = hashSignInCode('k', '1234567890');
    expect(signInCodeHashesMatch(hashSignInCode('k', '1234567890'), stored)).toBe(true);
    expect(signInCodeHashesMatch(hashSignInCode('k', '1234567891'), stored)).toBe(false);
    expect(signInCodeHashesMatch(stored, null)).toBe(false);
  });
});
