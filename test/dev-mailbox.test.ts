import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startPortico } from '../src/main.js';
import { findWorkspaceBySlug } from '../src/workspaces/workspaces.js';
import { listClients } from '../src/clients/clients.js';
import { createTestDatabase } from './helpers/databases.js';
import { HttpAgent } from './helpers/http-agent.js';
import { startPorticoProcess } from './helpers/portico-process.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

describe('the first run: demo workspace and dev mailbox', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('seeds the demo workspace on an empty database, and shows its mail at /_dev/mailbox and on the console', async () => {
    const server: TestPortico = await startTestPortico({ dialect: 'sqlite' });
    cleanups.push(() => server.stop({ dropDatabase: true }));
    const demo = server.portico.demoWorkspace!;
    const port = new URL(server.portico.address).port;
    expect(demo).toMatchObject({ slug: 'demo', name: 'Demo Portal', url: `http://localhost:${port}` });
    expect((await listClients(server.portico.context.db, demo)).map((client) => client.email)).toEqual(['client@example.com']);

    const browser = new HttpAgent(server.portico.address, demo.url);
    expect((await browser.post('/magic-login', { email: 'client@example.com' })).status).toBe(200);
    let mailbox = await browser.get('/_dev/mailbox');
    for (let attempt = 0; attempt < 50 && !mailbox.body.includes('Open the link in this mail'); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      mailbox = await browser.get('/_dev/mailbox');
    }
    expect(mailbox.status).toBe(200);
    expect(mailbox.body).toContain('Sign in to Demo Portal');
    const link = /href="(http:\/\/localhost:\d+\/magic-login\/verify\?token=[^"]+)"/.exec(mailbox.body)![1]!;
    expect(server.devConsole.join('')).toContain(link);
    expect((await browser.get(new URL(link).pathname + new URL(link).search)).status).toBe(200);
    expect((await browser.post('/magic-login/verify', { token: new URL(link).searchParams.get('token')! })).status).toBe(303);
    expect((await browser.get('/api/me')).json()).toMatchObject({ client: { email: 'client@example.com' }, workspace: { slug: 'demo' } });

    // Another workspace's mail is not shown here.
    const other = await server.createWorkspace('Other');
    await server.addClient(other, 'other@example.com');
    await server.agent(other).post('/magic-login', { email: 'other@example.com' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await browser.get('/_dev/mailbox')).body).not.toContain('other@example.com');
  });

  it('seeds nothing when workspaces exist, and nothing in production, where the dev mailbox is gone', async () => {
    const sink = await new SmtpSink().start();
    cleanups.push(() => sink.stop());
    const database = await createTestDatabase('sqlite');
    cleanups.push(() => database.drop());
    const parsed = loadConfig({ NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: database.url, SMTP_URL: sink.url, LOG_LEVEL: 'silent' });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const production = await startPortico(parsed.config);
    cleanups.push(() => production.stop());
    expect(production.demoWorkspace).toBeNull();
    expect(await findWorkspaceBySlug(production.context.db, 'demo')).toBeNull();
    const { createWorkspace } = await import('../src/workspaces/workspaces.js');
    const workspace = await createWorkspace(production.context.db, production.context.clock, { name: 'Live', url: `http://live.test:${new URL(production.address).port}` });
    expect((await new HttpAgent(production.address, workspace.url).get('/_dev/mailbox')).status).toBe(404);
  });

  // issue 13 item 9: the dev mailbox was on by default and the server listens on every address,
  // so anyone who could reach the machine could read sign-in links.
  it('shows the dev mailbox only to a browser on this machine, whatever X-Forwarded-For says', async () => {
    const server = await startTestPortico({ dialect: 'sqlite', env: { HOST: '0.0.0.0', TRUST_PROXY: 'true' } });
    cleanups.push(() => server.stop({ dropDatabase: true }));
    const workspace = await server.createWorkspace('Mailbox');
    await server.addClient(workspace, 'reader@example.com');
    const local = server.agent(workspace);
    expect((await local.post('/magic-login', { email: 'reader@example.com' })).status).toBe(200);
    let own = await local.get('/_dev/mailbox');
    for (let attempt = 0; attempt < 50 && !own.body.includes('reader@example.com'); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      own = await local.get('/_dev/mailbox');
    }
    expect(own.status).toBe(200);
    expect(own.body).toContain('/magic-login/verify?token=');

    // A request relayed by a proxy on this machine may be anyone's.
    const relayed = await local.get('/_dev/mailbox', { headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(relayed.status).toBe(404);
    expect(relayed.body).not.toContain('token=');

    // issue 13 item 9: only X-Forwarded-For and Forwarded counted as signs of a relay; a local
    // relay that adds X-Real-IP (nginx's usual config), Via or another forwarding header got through.
    for (const [name, value] of [
      ['x-real-ip', '127.0.0.1'],
      ['via', '1.1 nginx'],
      ['x-forwarded-host', local.host],
      ['x-forwarded-proto', 'http'],
      ['x-original-forwarded-for', '127.0.0.1'],
      ['forwarded', 'for=127.0.0.1'],
    ]) {
      const response = await local.get('/_dev/mailbox', { headers: { [name!]: value! } });
      expect(response.status, name).toBe(404);
      expect(response.body).not.toContain('token=');
    }
    expect((await local.get('/_dev/mailbox')).status).toBe(200);

    // Another machine: a peer address that is not loopback, even claiming to be 127.0.0.1.
    const fromElsewhere = await server.portico.app.inject({ method: 'GET', url: '/_dev/mailbox', headers: { host: local.host, 'x-forwarded-for': '127.0.0.1' }, remoteAddress: '203.0.113.9' });
    expect(fromElsewhere.statusCode).toBe(404);
    expect(fromElsewhere.body).not.toContain('token=');

    // And over a real socket whose peer is this machine's own network address, not loopback.
    const external = Object.values(networkInterfaces()).flat().find((entry) => entry && entry.family === 'IPv4' && !entry.internal);
    if (external) {
      const remote = new HttpAgent(`http://${external.address}:${new URL(server.portico.address).port}`, workspace.url);
      for (const headers of [{}, { 'x-forwarded-for': '127.0.0.1' }] as Record<string, string>[]) {
        const response = await remote.get('/_dev/mailbox', { headers });
        expect(response.status).toBe(404);
        expect(response.body).not.toContain('token=');
      }
      expect((await remote.get('/magic-login')).status).toBe(200);
    }
  });

  it('says on the console that the dev mailbox answers this machine only', async () => {
    const database = await createTestDatabase('sqlite');
    cleanups.push(() => database.drop());
    const serving = await startPorticoProcess({ DATABASE_URL: database.url });
    cleanups.push(() => serving.stop());
    await expect.poll(() => serving.output.join('')).toContain('The dev mailbox answers only browsers on this machine');
  });

  it('refuses to start in production without SMTP_URL, naming the variable', () => {
    const parsed = loadConfig({ NODE_ENV: 'production' });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems).toEqual([expect.stringMatching(/^SMTP_URL: required when NODE_ENV=production/)]);
  });
});
