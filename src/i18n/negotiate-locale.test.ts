import { describe, expect, it } from 'vitest';
import { matchShippedLocale, negotiateLocale, readLocale } from './negotiate-locale.js';

describe('negotiateLocale', () => {
  it.each([
    ['de-DE,de;q=0.9', 'en', 'de'],
    ['de-AT', 'en', 'de'],
    ['pt', 'en', 'pt-BR'],
    ['pt-PT,pt;q=0.8', 'en', 'pt-BR'],
    ['pt-br', 'en', 'pt-BR'],
    ['nl-BE,nl;q=0.9,en;q=0.5', 'de', 'nl'],
    // Quality values, not order, decide.
    ['fr;q=0.4,es;q=0.9', 'en', 'es'],
    ['ja,de;q=0.3', 'en', 'de'],
    // q=0 means "not this one".
    ['de;q=0,fr;q=0.1', 'en', 'fr'],
    // Nothing shipped, a wildcard, no header at all: the workspace's language.
    ['ja,zh-CN;q=0.8', 'de', 'de'],
    ['*', 'fr', 'fr'],
    // A wildcard above a shipped language: any language will do, so the workspace's (RFC 4647 §3.3.1).
    ['*, de;q=0.5', 'fr', 'fr'],
    ['de;q=0.5, *', 'fr', 'fr'],
    // Below it: German.
    ['de, *;q=0.1', 'fr', 'de'],
    ['', 'es', 'es'],
    [undefined, 'nl', 'nl'],
  ])('%j with the workspace in %j reads %j', (header, workspaceLocale, expected) => {
    expect(negotiateLocale(header, workspaceLocale)).toBe(expected);
  });

  it('falls back to English when the workspace holds a locale that is not shipped', () => {
    expect(negotiateLocale('ja', 'xx')).toBe('en');
  });
});

describe('readLocale', () => {
  it('keeps a shipped locale and reads anything else (a mail queued before languages existed) as English', () => {
    expect(readLocale('pt-BR')).toBe('pt-BR');
    expect(readLocale(undefined)).toBe('en');
    expect(readLocale('de-AT')).toBe('en');
  });
});

describe('matchShippedLocale', () => {
  it.each([
    ['de', 'de'],
    ['de-DE', 'de'],
    ['PT-br', 'pt-BR'],
    ['pt', 'pt-BR'],
    [' fr ', 'fr'],
    ['ja', null],
    ['', null],
    ['*', null],
  ])('%j names %j', (tag, expected) => {
    expect(matchShippedLocale(tag)).toBe(expected);
  });
});
