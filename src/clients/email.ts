// The one validator needed, not the whole package (10 MB of memory for ~100 validators).
import isEmailModule from 'validator/lib/isEmail.js';

// A CommonJS module: its function is its `default` as TypeScript sees it (and also at run time).
const isEmail = isEmailModule.default;

/** What is wrong with a typed address, for a page to say in its own language. */
export type EmailProblem = 'not_text' | 'empty' | 'too_long' | 'not_ascii' | 'malformed';

export type EmailCheckResult = { ok: true; email: string; normalized: string } | { ok: false; problem: EmailProblem };

export type EmailParseResult = { ok: true; email: string; normalized: string } | { ok: false; reason: string };

/** Each problem in the English the CLI and the admin API say it in (pages say it from the catalogue, by code). */
const emailProblemReasons: Record<EmailProblem, string> = {
  not_text: 'Enter one email address.',
  empty: 'Enter your email address.',
  too_long: 'An email address is at most 254 characters.',
  not_ascii: 'Enter an email address like name@example.com, without spaces or accented letters.',
  malformed: 'Enter an email address like name@example.com.',
};

// A dot-atom local part only: quoted local parts such as "a@evil.example"@victim.example are
// refused, since mail systems disagree on where such an address delivers (GHSA-5jpx-9hw9-2fx4).
const dotAtomLocalPart = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * Checks one email address: exactly one plain mailbox, ASCII only (international domains in their
 * xn-- form), at most 254 characters. Unicode is refused so that look-alike characters and case
 * folding can never make two different mailboxes compare equal (CVE-2019-19844).
 */
export function checkEmailAddress(input: unknown): EmailCheckResult {
  if (typeof input !== 'string') return { ok: false, problem: 'not_text' };
  const email = input.trim();
  if (email === '') return { ok: false, problem: 'empty' };
  if (email.length > 254) return { ok: false, problem: 'too_long' };
  // eslint-disable-next-line no-control-regex
  if (!/^[\x21-\x7e]+$/.test(email)) return { ok: false, problem: 'not_ascii' };
  const at = email.lastIndexOf('@');
  const localPart = email.slice(0, at);
  if (at < 1 || !dotAtomLocalPart.test(localPart) || localPart.length > 64) return { ok: false, problem: 'malformed' };
  if (!isEmail(email, { allow_display_name: false, allow_utf8_local_part: false, require_tld: true, allow_ip_domain: false })) {
    return { ok: false, problem: 'malformed' };
  }
  return { ok: true, email, normalized: normalizeEmail(email) };
}

/** Reads one email address as checkEmailAddress does, saying what is wrong in English (the CLI's and the admin API's words). */
export function parseEmailAddress(input: unknown): EmailParseResult {
  const checked = checkEmailAddress(input);
  return checked.ok ? checked : { ok: false, reason: emailProblemReasons[checked.problem] };
}

/** The form emails are matched by: case-insensitive, per the contract. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
