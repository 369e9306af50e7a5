// The one validator needed, not the whole package (10 MB of memory for ~100 validators).
import isEmailModule from 'validator/lib/isEmail.js';

// A CommonJS module: its function is its `default` as TypeScript sees it (and also at run time).
const isEmail = isEmailModule.default;

export type EmailParseResult = { ok: true; email: string; normalized: string } | { ok: false; reason: string };

// A dot-atom local part only: quoted local parts such as "a@evil.example"@victim.example are
// refused, since mail systems disagree on where such an address delivers (GHSA-5jpx-9hw9-2fx4).
const dotAtomLocalPart = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * Reads one email address: exactly one plain mailbox, ASCII only (international domains in their
 * xn-- form), at most 254 characters. Unicode is refused so that look-alike characters and case
 * folding can never make two different mailboxes compare equal (CVE-2019-19844).
 */
export function parseEmailAddress(input: unknown): EmailParseResult {
  if (typeof input !== 'string') return { ok: false, reason: 'Enter one email address.' };
  const email = input.trim();
  if (email === '') return { ok: false, reason: 'Enter your email address.' };
  if (email.length > 254) return { ok: false, reason: 'An email address is at most 254 characters.' };
  // eslint-disable-next-line no-control-regex
  if (!/^[\x21-\x7e]+$/.test(email)) return { ok: false, reason: 'Enter an email address like name@example.com, without spaces or accented letters.' };
  const at = email.lastIndexOf('@');
  const localPart = email.slice(0, at);
  if (at < 1 || !dotAtomLocalPart.test(localPart) || localPart.length > 64) {
    return { ok: false, reason: 'Enter an email address like name@example.com.' };
  }
  if (!isEmail(email, { allow_display_name: false, allow_utf8_local_part: false, require_tld: true, allow_ip_domain: false })) {
    return { ok: false, reason: 'Enter an email address like name@example.com.' };
  }
  return { ok: true, email, normalized: normalizeEmail(email) };
}

/** The form emails are matched by: case-insensitive, per the contract. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
