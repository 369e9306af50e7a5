import { describe, expect, it } from 'vitest';
import { constantTimeEqual, generateNonce, generateSecretToken, hashSecretToken, looksLikeSecretToken } from './tokens.js';

describe('generateSecretToken', () => {
  it('gives 43 base64url characters (32 random bytes)', () => {
    const token = generateSecretToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
  });

  it('never repeats a value', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => generateSecretToken()));
    expect(tokens.size).toBe(1000);
  });
});

describe('hashSecretToken', () => {
  // Expected values computed outside Node: printf '%s' "$input" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='
  it.each([
    ['', '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU'],
    ['abc', 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0'],
    ['portico-known-answer', 'LBT-n7OYxVrjlMejuZqZLMsxS42VaWquvLKz1a7nIRQ'],
    ['é', 'SplVfkAzw1Od4utlRyAXytX5VX96BiWgnxw_biumnEw'],
  ])('hashes %j to the SHA-256 known answer in base64url', (input, expected) => {
    expect(hashSecretToken(input)).toBe(expected);
  });

  it('gives a different hash for a token one character apart', () => {
    expect(hashSecretToken('abc')).not.toBe(hashSecretToken('abd'));
  });
});

describe('constantTimeEqual', () => {
  it('is true for equal strings', () => {
    const token = generateSecretToken();
    expect(constantTimeEqual(token, `${token}`)).toBe(true);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it('is false for strings of the same length that differ', () => {
    expect(constantTimeEqual('abcdef', 'abcdeg')).toBe(false);
    expect(constantTimeEqual('Abcdef', 'abcdef')).toBe(false);
  });

  it('is false, without throwing, for strings of different lengths', () => {
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', 'a')).toBe(false);
    expect(constantTimeEqual(generateSecretToken(), 'short')).toBe(false);
  });
});

describe('generateNonce', () => {
  it('gives 16 random bytes in base64, different each time', () => {
    const nonce = generateNonce();
    expect(Buffer.from(nonce, 'base64')).toHaveLength(16);
    expect(generateNonce()).not.toBe(nonce);
  });
});

describe('looksLikeSecretToken', () => {
  it('accepts tokens we issue', () => {
    for (let i = 0; i < 100; i += 1) expect(looksLikeSecretToken(generateSecretToken())).toBe(true);
  });

  it.each([
    ['42 characters', 'a'.repeat(42)],
    ['44 characters', 'a'.repeat(44)],
    ['empty', ''],
    ['a "+" (base64, not base64url)', `${'a'.repeat(42)}+`],
    ['a "/" (base64, not base64url)', `${'a'.repeat(42)}/`],
    ['"=" padding', `${'a'.repeat(42)}=`],
    ['a space', `${'a'.repeat(42)} `],
    ['a trailing newline', `${'a'.repeat(43)}\n`],
  ])('rejects a string with %s', (_label, value) => {
    expect(looksLikeSecretToken(value)).toBe(false);
  });

  it.each([undefined, null, 42, ['a'.repeat(43)], { token: 'a'.repeat(43) }])('rejects the non-string %j', (value) => {
    expect(looksLikeSecretToken(value)).toBe(false);
  });
});
