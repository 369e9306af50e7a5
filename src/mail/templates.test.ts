import { describe, expect, it } from 'vitest';
import { renderMail } from './templates.js';

const payload = { workspaceName: 'Acme', clientName: 'Ada', link: 'http://acme.test/magic-login/verify?token=t', ttlMs: 900_000 };

describe('renderMail', () => {
  it('writes a mail in the language its payload names', () => {
    const mail = renderMail('magic-link', { ...payload, locale: 'de' });
    expect(mail.locale).toBe('de');
    expect(mail.subject).toBe('Bei Acme anmelden');
    expect(mail.text).toContain('Guten Tag Ada,');
    expect(mail.text).toContain('15 Minuten lang gültig');
    expect(mail.html).toContain('<html lang="de">');
  });

  // A mail queued before languages existed carries no locale: it goes out as it would have, in English.
  it('writes a mail queued without a language, or with one not shipped, in English', () => {
    for (const locale of [undefined, 'xx']) {
      const mail = renderMail('magic-link', { ...payload, locale });
      expect(mail.locale).toBe('en');
      expect(mail.subject).toBe('Sign in to Acme');
      expect(mail.text).toContain('This link works once and stays valid for 15 minutes.');
    }
  });
});
