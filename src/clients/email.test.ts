import { describe, expect, it } from 'vitest';
import { normalizeEmail, parseEmailAddress } from './email.js';

/** An address of exactly `length` characters with a 64-character local part and valid labels. */
function addressOfLength(length: number): string {
  const labels: string[] = [];
  let remaining = length - 64 - 1 - '.example'.length;
  while (remaining > 0) {
    const size = Math.min(63, remaining);
    labels.push('b'.repeat(size));
    remaining -= size + 1;
  }
  const address = `${'a'.repeat(64)}@${labels.join('.')}.example`;
  if (address.length !== length) throw new Error(`cannot build an address of ${length} characters`);
  return address;
}

describe('parseEmailAddress', () => {
  it('accepts a plain address', () => {
    expect(parseEmailAddress('a@example.com')).toEqual({ ok: true, email: 'a@example.com', normalized: 'a@example.com' });
  });

  it('trims the address, keeps its case for display and lower-cases it for matching', () => {
    expect(parseEmailAddress(' A.B+tag@Example.COM ')).toEqual({ ok: true, email: 'A.B+tag@Example.COM', normalized: 'a.b+tag@example.com' });
  });

  it('accepts an international domain in its xn-- form', () => {
    expect(parseEmailAddress('a@xn--bcher-kva.example')).toMatchObject({ ok: true, normalized: 'a@xn--bcher-kva.example' });
  });

  it('accepts 254 characters and refuses 255, saying why', () => {
    expect(parseEmailAddress(addressOfLength(254))).toMatchObject({ ok: true });
    expect(parseEmailAddress(addressOfLength(255))).toEqual({ ok: false, reason: 'An email address is at most 254 characters.' });
  });

  it('accepts a 64-character local part and refuses 65', () => {
    expect(parseEmailAddress(`${'a'.repeat(64)}@x.example`)).toMatchObject({ ok: true });
    expect(parseEmailAddress(`${'a'.repeat(65)}@x.example`)).toMatchObject({ ok: false });
  });

  it('asks for an address when the field is empty', () => {
    expect(parseEmailAddress('')).toEqual({ ok: false, reason: 'Enter your email address.' });
    expect(parseEmailAddress('   ')).toEqual({ ok: false, reason: 'Enter your email address.' });
  });

  it.each([
    ['no @', 'a'],
    ['no domain', 'a@'],
    ['no local part', '@x.com'],
    ['two @', 'a@@x.example'],
    // GHSA-5jpx-9hw9-2fx4: mail systems disagree on where a quoted local part delivers.
    ['a quoted local part holding an @', '"a@evil.example"@victim.example'],
    ['two addresses separated by a comma', 'a@x.example,b@y.example'],
    ['two addresses separated by a space', 'a@x.example b@y.example'],
    ['a display name', 'Ada <a@x.example>'],
    ['a Cyrillic "а" in the local part', 'аdmin@example.com'],
    ['a Cyrillic "а" in the domain', 'a@exаmple.com'],
    ['a fullwidth "ａ"', 'ａ@example.com'],
    ['a domain without a TLD', 'a@localhost'],
    ['an IP address domain', 'a@127.0.0.1'],
    ['an IP literal domain', 'a@[127.0.0.1]'],
    ['a leading dot', '.a@x.example'],
    ['two dots in a row', 'a..b@x.example'],
    ['a newline inside', 'a\n@x.example'],
    ['65 characters before the @', `${'a'.repeat(65)}@x.example`],
    ['300 characters', `a@${'b'.repeat(290)}.example`],
  ])('refuses %s: %j', (_label, input) => {
    const result = parseEmailAddress(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/email address/);
  });

  it.each([undefined, null, 42, ['a@x.example'], ['a@x.example', 'b@y.example'], { email: 'a@x.example' }])(
    'refuses the non-string %j (e.g. a repeated form field)',
    (input) => {
      expect(parseEmailAddress(input)).toEqual({ ok: false, reason: 'Enter one email address.' });
    },
  );

  it('gives the same normalized form for addresses that differ only in case', () => {
    const upper = parseEmailAddress('ADA@EXAMPLE.COM');
    const lower = parseEmailAddress('ada@example.com');
    expect(upper.ok && lower.ok && upper.normalized === lower.normalized).toBe(true);
  });
});

describe('normalizeEmail', () => {
  it('lower-cases and trims', () => {
    expect(normalizeEmail(' Ada.Lovelace@Example.COM ')).toBe('ada.lovelace@example.com');
  });
});
