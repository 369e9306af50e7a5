import { afterEach, describe, expect, it } from 'vitest';
import { testDialects } from './helpers/databases.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 400));

describe.each(testDialects)('limits against abuse, on %s', (dialect) => {
  const running: { server: TestPortico; sink: SmtpSink }[] = [];
  afterEach(async () => {
    for (const { server, sink } of running.splice(0)) {
      await server.stop({ dropDatabase: true });
      await sink.stop();
    }
  });

  async function start(env: Record<string, string>) {
    const sink = await new SmtpSink().start();
    const server = await startTestPortico({ dialect, smtpUrl: sink.url, env });
    running.push({ server, sink });
    const workspace = await server.createWorkspace('Limited');
    await server.addClient(workspace, 'client@example.com');
    return { server, sink, workspace };
  }

  it('sends at most one email per cooldown to an address, answering the same every time', async () => {
    const { server, sink, workspace } = await start({ LIMIT_EMAIL_COOLDOWN: '60s', LIMIT_EMAIL_PER_HOUR: '5' });
    const first = await server.agent(workspace).post('/magic-login', { email: 'client@example.com' });
    const second = await server.agent(workspace).post('/magic-login', { email: 'client@example.com' });
    expect(second.status).toBe(first.status);
    expect(second.body.replace(/nonce="[^"]+"/g, '')).toBe(first.body.replace(/nonce="[^"]+"/g, ''));
    await sink.waitForMails('client@example.com', 1);
    await settle();
    expect(sink.mailsTo('client@example.com')).toHaveLength(1);

    server.clock.advance(61_000);
    await server.agent(workspace).post('/magic-login', { email: 'client@example.com' });
    await sink.waitForMails('client@example.com', 2);
  });

  it('caps emails to an address per hour', async () => {
    const { server, sink, workspace } = await start({ LIMIT_EMAIL_COOLDOWN: '0', LIMIT_EMAIL_PER_HOUR: '3' });
    for (let attempt = 0; attempt < 6; attempt += 1) {
      expect((await server.agent(workspace).post('/magic-login', { email: 'client@example.com' })).status).toBe(200);
    }
    await sink.waitForMails('client@example.com', 3);
    await settle();
    expect(sink.mailsTo('client@example.com')).toHaveLength(3);
  });

  it('limits POSTs per client IP on each door with 429 and Retry-After; a forged X-Forwarded-For changes nothing', async () => {
    const { server, workspace } = await start({ LIMIT_IP_PER_MINUTE: '3' });
    const browser = server.agent(workspace);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      expect((await browser.post('/magic-login', { email: `someone${attempt}@example.com` })).status).toBe(200);
    }
    const limited = await browser.post('/magic-login', { email: 'someone@example.com' }, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.body).toContain('Try again in');

    // Redemption is a door of its own, with its own count.
    expect((await browser.post('/magic-login/verify', { token: 'x'.repeat(43) })).status).toBe(404);

    server.clock.advance(60_000);
    expect((await browser.post('/magic-login', { email: 'later@example.com' })).status).toBe(200);
  });

  it('believes X-Forwarded-For only under TRUST_PROXY', async () => {
    const { server, workspace } = await start({ LIMIT_IP_PER_MINUTE: '2', TRUST_PROXY: '127.0.0.1' });
    const statuses: number[] = [];
    for (let client = 0; client < 6; client += 1) {
      const response = await server.agent(workspace).post('/magic-login', { email: 'x@example.com' }, { headers: { 'x-forwarded-for': `198.51.100.${client}` } });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    const same = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      same.push((await server.agent(workspace).post('/magic-login', { email: 'x@example.com' }, { headers: { 'x-forwarded-for': '198.51.100.200' } })).status);
    }
    expect(same).toEqual([200, 200, 429]);
  });
});
