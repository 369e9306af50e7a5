import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { HttpAgent, type HttpResponse } from './helpers/http-agent.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// Property-based fuzzing of everything a route reads (issue 5, item 10): form fields, query,
// headers and cookies get random strings, bytes and shapes. Whatever arrives: never a 5xx, never
// mail to an address that is not a stored client, never a session without a valid secret.

const storedClients = ['fuzz@example.com', 'second@example.com'];

/** Text of every kind: ASCII, full Unicode, look-alikes, and the shapes attackers like. */
const hostileText = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '', ' ', '//evil.example', '/\\evil.example', 'javascript:alert(1)', '%2F%2Fevil.example', '"a@evil.example"@example.com',
    'fuzz@example.com,attacker@evil.example', 'FUZZ@EXAMPLE.COM', 'fuzz@example.com\r\nBcc: x@evil.example', 'A'.repeat(43), 'null',
    '../../etc/passwd', '<script>alert(1)</script>', '\u0000', 'ﬀ@example.com', `${'a'.repeat(300)}@example.com`,
  ),
);

/** A form value: one string, several (repeated fields), or absent. */
const formValue = fc.oneof(hostileText, fc.array(hostileText, { minLength: 2, maxLength: 3 }));

/** Header values must be bytes Node can send; anything else is what a browser could never send either. */
const headerText = hostileText.map((text) => text.replace(/[^\t\x20-\x7e\x80-\xff]/g, ''));

const routes: { method: 'GET' | 'POST'; path: string; fields: string[] }[] = [
  { method: 'POST', path: '/magic-login', fields: ['email', 'next'] },
  { method: 'POST', path: '/magic-login/verify', fields: ['token'] },
  { method: 'POST', path: '/login', fields: ['email', 'password', 'next'] },
  { method: 'POST', path: '/forgot-password', fields: ['email'] },
  { method: 'POST', path: '/reset-password', fields: ['token', 'password'] },
  { method: 'POST', path: '/account/password', fields: ['current_password', 'new_password', 'next'] },
  { method: 'POST', path: '/account/sessions/end', fields: ['session'] },
  { method: 'POST', path: '/account/sessions/end-others', fields: [] },
  { method: 'GET', path: '/account/sign-out-everywhere', fields: [] },
  { method: 'POST', path: '/logout', fields: [] },
  { method: 'GET', path: '/magic-login', fields: ['next'] },
  { method: 'GET', path: '/magic-login/verify', fields: ['token'] },
  { method: 'GET', path: '/reset-password', fields: ['token'] },
  { method: 'GET', path: '/login', fields: ['next', 'email', 'signed_out'] },
  { method: 'GET', path: '/', fields: [] },
  { method: 'GET', path: '/account', fields: ['ended', 'password'] },
  { method: 'GET', path: '/api/me', fields: [] },
  { method: 'GET', path: '/welcome', fields: ['password', 'next'] },
];

describe('fuzzing every input a route reads', () => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  const responses: HttpResponse[] = [];

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: sink.url });
    workspace = await server.createWorkspace('Fuzzed');
    for (const email of storedClients) await server.addClient(workspace, email);
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  it.each(routes)('$method $path', async ({ method, path, fields }) => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          values: fc.dictionary(fc.constantFrom(...fields, 'extra'), formValue, { maxKeys: fields.length + 1 }),
          origin: fc.option(fc.oneof(fc.constant(workspace.url), headerText), { nil: undefined }),
          fetchSite: fc.option(fc.constantFrom('same-origin', 'same-site', 'cross-site', 'none', 'bogus'), { nil: undefined }),
          cookie: fc.option(headerText.map((text) => `portico_session=${text}; portico_browser=${text}`), { nil: undefined }),
          forwardedFor: fc.option(headerText, { nil: undefined }),
          userAgent: fc.option(headerText, { nil: undefined }),
          rawBody: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: undefined }),
          contentType: fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data', 'nonsense'),
        }),
        async (input) => {
          const headers: Record<string, string> = {};
          if (input.origin !== undefined) headers.origin = input.origin;
          if (input.fetchSite !== undefined) headers['sec-fetch-site'] = input.fetchSite;
          if (input.cookie !== undefined) headers.cookie = input.cookie;
          if (input.forwardedFor !== undefined) headers['x-forwarded-for'] = input.forwardedFor;
          if (input.userAgent !== undefined) headers['user-agent'] = input.userAgent;
          const agent = new HttpAgent(server.portico.address, workspace.url);
          const form = Object.fromEntries(Object.entries(input.values).map(([key, value]) => [key, value]));
          let response: HttpResponse;
          if (method === 'GET') {
            const query = new URLSearchParams();
            for (const [key, value] of Object.entries(form)) for (const item of Array.isArray(value) ? value : [value]) query.append(key, item);
            response = await agent.get(`${path}${query.size > 0 ? `?${query}` : ''}`, { headers });
          } else if (input.rawBody !== undefined) {
            response = await agent.request(path, { method: 'POST', body: Buffer.from(input.rawBody).toString('latin1'), headers: { ...headers, 'content-type': input.contentType } });
          } else {
            response = await agent.request(path, { method: 'POST', form, headers });
          }
          responses.push(response);
          expect(response.status, `${method} ${path} answered ${response.status}: ${response.body.slice(0, 200)}`).toBeLessThan(500);
          const sessionCookies = [response.headers['set-cookie'] ?? []].flat().filter((line) => /^(__Host-)?portico_session=[^;]/.test(line));
          expect(sessionCookies, 'a session without a valid secret').toEqual([]);
        },
      ),
      { numRuns: 60, interruptAfterTimeLimit: 20_000 },
    );
  });

  it('sent mail only to stored clients', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const recipients = new Set(sink.mails.flatMap((mail) => mail.to.map((address) => address.toLowerCase())));
    for (const recipient of recipients) expect(storedClients).toContain(recipient);
    expect(responses.length).toBeGreaterThan(routes.length * 20);
    // The fuzzing reached the handlers, not only the guards in front of them.
    expect(responses.filter((response) => response.status === 200).length).toBeGreaterThan(50);
  });
});
