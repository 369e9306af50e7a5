import { describe, expect, it } from 'vitest';
import { normalizeRequestHost, parseWorkspaceOrigin } from './workspace-url.js';

describe('parseWorkspaceOrigin', () => {
  it.each([
    ['https://portal.acme.example', 'https://portal.acme.example', 'portal.acme.example'],
    ['http://localhost:3000', 'http://localhost:3000', 'localhost:3000'],
    ['https://x.example:443', 'https://x.example', 'x.example'],
    ['http://x.example:80', 'http://x.example', 'x.example'],
    ['http://x.example:443', 'http://x.example:443', 'x.example:443'],
    ['HTTPS://X.Example', 'https://x.example', 'x.example'],
    ['  https://x.example  ', 'https://x.example', 'x.example'],
    ['https://[::1]:3000', 'https://[::1]:3000', '[::1]:3000'],
    ['https://münchen.example', 'https://xn--mnchen-3ya.example', 'xn--mnchen-3ya.example'],
  ])('reads %j as origin %j and host %j', (text, url, host) => {
    expect(parseWorkspaceOrigin(text)).toEqual({ ok: true, url, host });
  });

  // An origin pasted from the address bar carries a trailing slash; it names the same origin.
  it('accepts a single trailing slash and drops it', () => {
    expect(parseWorkspaceOrigin('https://x.example/')).toEqual({ ok: true, url: 'https://x.example', host: 'x.example' });
  });

  it.each([
    ['a path', 'https://x.example/portal', /path/],
    ['a double slash', 'https://x.example//', /path/],
    ['a dot segment', 'https://x.example/.', /path/],
    ['a query', 'https://x.example?a=1', /query/],
    ['an empty query', 'https://x.example?', /query/],
    ['a fragment', 'https://x.example#top', /fragment/],
    ['an empty fragment', 'https://x.example#', /fragment/],
    ['a user and password', 'https://user:secret@x.example', /user name or password/],
    ['a user', 'https://user@x.example', /user name or password/],
    ['another scheme', 'ftp://x', /scheme/],
    ['a javascript: URL', 'javascript:alert(1)', /scheme/],
    ['no URL at all', 'not a url', /not a URL/],
    ['a scheme with no host', 'https://', /not a URL/],
  ])('refuses %s (%j) with a reason', (_label, text, reason) => {
    const result = parseWorkspaceOrigin(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  // Bug: requests are matched by normalizeRequestHost(Host) === workspace.host. A host stored in a
  // form that no request normalizes to makes a workspace nobody can reach.
  it.each(['https://portal.acme.example', 'http://localhost:3000', 'http://x.example:443', 'https://[::1]:3000', 'https://x.example.'])(
    'stores for %j a host that requests to that origin resolve to',
    (text) => {
      const result = parseWorkspaceOrigin(text);
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      const protocol = result.url.startsWith('https:') ? 'https' : 'http';
      expect(normalizeRequestHost(result.host, protocol)).toBe(result.host);
    },
  );
});

describe('normalizeRequestHost', () => {
  it.each([
    ['Acme.Test:3000', 'http', 'acme.test:3000'],
    ['x.example:80', 'http', 'x.example'],
    ['x.example:443', 'https', 'x.example'],
    ['x.example:443', 'http', 'x.example:443'],
    ['x.example:80', 'https', 'x.example:80'],
    [' X.Example ', 'http', 'x.example'],
    ['x.example.', 'http', 'x.example'],
    ['x.example.:80', 'http', 'x.example'],
    ['[::1]:3000', 'http', '[::1]:3000'],
    ['[::1]:80', 'http', '[::1]'],
    ['[::1]', 'https', '[::1]'],
  ] as const)('turns %j over %s into %j', (header, protocol, expected) => {
    expect(normalizeRequestHost(header, protocol)).toBe(expected);
  });

  it.each([undefined, '', 'a b', 'x/y', 'x.example@evil.example', 'x.example\\y', 'x.example?a', 'ex\u00e4mple.com'])(
    'gives null for %j',
    (header) => {
      expect(normalizeRequestHost(header, 'https')).toBeNull();
    },
  );
});
