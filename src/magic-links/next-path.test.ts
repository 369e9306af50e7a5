import { describe, expect, it } from 'vitest';
import { parseNextPath } from './next-path.js';

describe('parseNextPath', () => {
  it.each([
    ['/', '/'],
    ['/invoices/42?tab=pdf#top', '/invoices/42?tab=pdf#top'],
    ['/a?x=//evil.example', '/a?x=//evil.example'],
    ['/./invoices', '/invoices'],
    ['/a/../b', '/b'],
  ])('keeps the same-site path %j as %j', (input, expected) => {
    expect(parseNextPath(input)).toBe(expected);
  });

  it('keeps an encoded "//" as part of a path, never as a host', () => {
    const path = parseNextPath('/%2F%2Fevil.example');
    expect(path).toBe('/%2F%2Fevil.example');
    expect(path).toMatch(/^\/[^/]/);
  });

  it('accepts a path of 2000 characters and refuses one of 2001', () => {
    expect(parseNextPath(`/${'a'.repeat(1999)}`)).toBe(`/${'a'.repeat(1999)}`);
    expect(parseNextPath(`/${'a'.repeat(2000)}`)).toBeNull();
  });

  // CVE-2024-56734, CVE-2025-27143: an open redirect after sign-in hands the user to a phishing page.
  it.each([
    ['a protocol-relative URL', '//evil.example'],
    ['three slashes', '///evil.example'],
    ['a backslash browsers read as a slash', '/\\evil.example'],
    ['a scheme without slashes', 'https:evil.example'],
    ['an absolute URL', 'https://evil.example/x'],
    ['an encoded "//" at the start', '%2F%2Fevil.example'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a tab browsers drop', '/\tevil'],
    ['a leading space', ' /x'],
    ['a trailing newline', '/x\n'],
    ['a NUL byte', '/x\0'],
    ['the empty string', ''],
    ['3000 characters', `/${'a'.repeat(2999)}`],
    ['a dot segment before "//"', '/.//evil.example'],
    ['a parent segment before "//"', '/..//evil.example'],
    ['parent segments walking up to "//"', '/a/b/../../..//evil.example'],
    ['an encoded dot segment before "//"', '/%2e//evil.example'],
    ['an encoded parent segment before "//"', '/%2e%2e//evil.example'],
  ])('refuses %s: %j', (_label, input) => {
    expect(parseNextPath(input)).toBeNull();
  });

  it.each([undefined, null, 42, ['/a'], { path: '/a' }])('refuses the non-string %j', (input) => {
    expect(parseNextPath(input)).toBeNull();
  });

  it('never returns something a browser would read as another host', () => {
    const tricky = ['/.//x', '/./x', '/%2F/x', '/a/..//x', '/%5Cx', '/.%2F/x', '/%2e/%2e//x', '/x/../../x', '/?//x', '/#//x'];
    for (const input of tricky) {
      const path = parseNextPath(input);
      if (path !== null) {
        expect(path, input).toMatch(/^\/(?![/\\])/);
        expect(new URL(path, 'https://portal.example').origin, input).toBe('https://portal.example');
      }
    }
  });
});
