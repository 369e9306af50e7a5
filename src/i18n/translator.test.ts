import { describe, expect, it } from 'vitest';
import { escapeHtml, linkTag, translatorFor } from './translator.js';

describe('translatorFor', () => {
  const english = translatorFor('en');
  const german = translatorFor('de');

  it('fills placeholders and keeps only the words of rich-text tags in plain text', () => {
    expect(english.t('login.heading', { workspace: 'Acme' })).toBe('Sign in to Acme');
    expect(english.t('signedIn.body', { email: 'ada@example.com' })).toBe('You are signed in as ada@example.com.');
    expect(german.t('signedIn.body', { email: 'ada@example.com' })).toBe('Sie sind angemeldet als ada@example.com.');
  });

  it('escapes every value in HTML and renders the standard tags', () => {
    const html = english.html('magicLoginSent.sent', { email: '"x"@example.com', workspace: '<script>alert(1)</script> & Co' });
    expect(html).toBe(
      'If <span class="account-email">&quot;x&quot;@example.com</span> belongs to an account at &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co, a sign-in link is on its way.',
    );
  });

  it('renders a link tag with its address escaped, and refuses a tag nobody renders', () => {
    const html = english.html('mail.passwordChanged.ifNotYou', {}, { link: linkTag('https://acme.test/magic-login?a=1&b="2"') });
    expect(html).toContain('<a href="https://acme.test/magic-login?a=1&amp;b=&quot;2&quot;">sign in with a link sent to this address</a>');
    expect(() => english.html('mail.passwordChanged.ifNotYou')).toThrow(/<link>/);
  });

  it('throws on a key English lacks, rather than showing it', () => {
    expect(() => english.t('login.nothingHere')).toThrow(/no message login.nothingHere/);
  });

  it('writes plurals in each language', () => {
    expect(english.t('account.time.minutesAgo', { count: 1 })).toBe('1 minute ago');
    expect(english.t('account.time.minutesAgo', { count: 2 })).toBe('2 minutes ago');
    expect(german.t('account.time.minutesAgo', { count: 1 })).toBe('vor 1 Minute');
    expect(german.t('account.time.minutesAgo', { count: 2 })).toBe('vor 2 Minuten');
  });

  it('writes durations and waits with Intl in the language', () => {
    expect(german.duration(60_000)).toBe('1 Minute');
    expect(german.duration(7 * 86_400_000)).toBe('7 Tage');
    expect(german.wait(65_000)).toBe('1 Minute, 5 Sekunden');
    expect(english.wait(65_000)).toBe('1 minute 5 seconds');
    expect(german.dateTime(Date.UTC(2026, 11, 1, 12, 30))).toMatch(/^1\. Dezember 2026.*12:30/);
  });
});

describe('escapeHtml', () => {
  it('escapes as Eta escapes <%= %>', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
