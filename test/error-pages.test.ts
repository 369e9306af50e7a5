import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { HttpAgent, type HttpResponse } from './helpers/http-agent.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// issue 13 item 9: a malformed URL (`/%ZZ`) got Fastify's own JSON error, on any host and in
// production, without the security headers. Every answer goes through Portico's error pages.
// The router does not depend on the SQL dialect.
describe('answers to requests the router or Node cannot read', () => {
  let server: TestPortico;
  let workspace: Workspace;

  beforeAll(async () => {
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: 'smtp://127.0.0.1:9', env: { NODE_ENV: 'production' } });
    workspace = await server.createWorkspace('Malformed');
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
  });

  function expectSecurityHeaders(response: HttpResponse) {
    expect(response.headers['content-security-policy']).toContain("default-src 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.headers['cache-control']).toBe('no-store');
  }

  it.each(["a workspace's host", 'a host no workspace owns'])('gives a malformed URL such as /%ZZ on %s the 400 page with the security headers', async (where) => {
    const agent = () => (where === 'a host no workspace owns' ? new HttpAgent(server.portico.address, 'http://nobody.test:1') : server.agent(workspace));
    for (const path of ['/%ZZ', '/magic-login/%E0%A4%A', '/%ZZ?token=x']) {
      const response = await agent().get(path);
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.body).toContain('Something about that request was wrong');
      expect(response.body).not.toContain('FST_ERR');
      expect(response.body).not.toContain('not a valid url component');
      expectSecurityHeaders(response);
    }
  });

  it('answers a malformed API URL in JSON, still with the security headers', async () => {
    const response = await server.agent(workspace).get('/api/%ZZ');
    expect(response.status).toBe(400);
    expect(response.json()).toEqual({ error: 'bad_request', message: expect.any(String) });
    expect(response.body).not.toContain('FST_ERR');
    expectSecurityHeaders(response);
  });

  it('answers a request Node cannot parse in plain words with the security headers, not in JSON', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(server.portico.address).port), '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('utf8')));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      socket.write(`GET / HTTP/1.1\r\nHost: ${new URL(workspace.url).host}\r\nthis is not a header\r\n\r\n`);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw).toMatch(/\r\ncontent-security-policy: default-src 'none'/);
    expect(raw).toMatch(/\r\nx-content-type-options: nosniff\r\n/);
    expect(raw).toMatch(/\r\ncontent-type: text\/plain/);
    expect(raw).not.toContain('"statusCode"');
  });
});
