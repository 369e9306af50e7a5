import { afterEach, describe, expect, it, vi } from 'vitest';
import { testDialects } from './helpers/databases.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { TestClock } from './helpers/test-clock.js';
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
    // Every limit here counts in windows that begin on the hour: start at one, whatever the time of day.
    const server = await startTestPortico({ dialect, smtpUrl: sink.url, env, clock: new TestClock({ atTopOfHour: true }) });
    running.push({ server, sink });
    const workspace = await server.createWorkspace('Limited');
    await server.addClient(workspace, 'client@example.com');
    return { server, sink, workspace };
  }

  // issue 17 item 2: the second answer used to be the first's word for word ("on its way"), though
  // nothing was sent; it now says a link was just sent (doors.test.ts has the rest).
  it('sends at most one email per cooldown to an address, and says so when asked again', async () => {
    const { server, sink, workspace } = await start({ LIMIT_EMAIL_COOLDOWN: '60s', LIMIT_EMAIL_PER_HOUR: '5' });
    const first = await server.agent(workspace).post('/magic-login', { email: 'client@example.com' });
    const second = await server.agent(workspace).post('/magic-login', { email: 'client@example.com' });
    expect(second.status).toBe(first.status);
    expect(first.body).toContain('a sign-in link is on its way');
    expect(second.body).toContain('A sign-in link was just sent to');
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

  it("issue 13 item 9: five requests from anyone for a client's address lock it out for one refill period (12 min), not until the hour ends", async () => {
    const { server, sink, workspace } = await start({ LIMIT_EMAIL_COOLDOWN: '60s', LIMIT_EMAIL_PER_HOUR: '5' });
    // start() begins just past the top of an hour: a fixed hourly window would stay closed for 59 more minutes.
    const ask = () => server.agent(workspace).post('/magic-login', { email: 'client@example.com' });
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect((await ask()).status).toBe(200);
      server.clock.advance(61_000);
    }
    await sink.waitForMails('client@example.com', 5);
    // The bucket is empty: the client's own request, the same answer as ever, sends nothing.
    server.clock.advance(6 * 60_000);
    expect((await ask()).status).toBe(200);
    await settle();
    expect(sink.mailsTo('client@example.com')).toHaveLength(5);
    // Twelve minutes after the first request one slot is back, and the client gets a link.
    server.clock.advance(12 * 60_000 - 5 * 61_000 - 6 * 60_000 + 1_000);
    expect((await ask()).status).toBe(200);
    await sink.waitForMails('client@example.com', 6);
  });

  it('issue 13 item 9: of 20 simultaneous requests for one address, exactly LIMIT_EMAIL_PER_HOUR send a mail', async () => {
    const { server, sink, workspace } = await start({ LIMIT_EMAIL_COOLDOWN: '0', LIMIT_EMAIL_PER_HOUR: '4' });
    const responses = await Promise.all(Array.from({ length: 20 }, () => server.agent(workspace).post('/magic-login', { email: 'client@example.com' })));
    expect(responses.every((response) => response.status === 200)).toBe(true);
    await sink.waitForMails('client@example.com', 4);
    await settle();
    expect(sink.mailsTo('client@example.com')).toHaveLength(4);
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
    expect(limited.body).toContain('You can ask again in');

    // Redemption is a door of its own, with its own count.
    expect((await browser.post('/magic-login/verify', { token: 'x'.repeat(43) })).status).toBe(404);

    server.clock.advance(60_000);
    expect((await browser.post('/magic-login', { email: 'later@example.com' })).status).toBe(200);
  });

  it('caps the emails a workspace sends per hour, whatever the addresses', async () => {
    const { server, sink, workspace } = await start({ LIMIT_WORKSPACE_EMAILS_PER_HOUR: '3', LIMIT_EMAIL_COOLDOWN: '0' });
    const emails = ['one@example.com', 'two@example.com', 'three@example.com', 'four@example.com', 'five@example.com'];
    for (const email of emails) await server.addClient(workspace, email);
    // One after the other: the ceiling is taken when a mail is sent, and mails asked for in the same
    // instant are sent together, in no set order.
    for (const email of emails) {
      expect((await server.agent(workspace).post('/magic-login', { email })).status).toBe(200);
      if (sink.mailsTo('three@example.com').length === 0) await sink.waitForMails(email, 1);
    }
    await settle();
    expect(emails.map((email) => sink.mailsTo(email).length)).toEqual([1, 1, 1, 0, 0]);
    // Another workspace on the same server has a budget of its own.
    const other = await server.createWorkspace('Other');
    await server.addClient(other, 'four@example.com');
    await server.agent(other).post('/magic-login', { email: 'four@example.com' });
    await sink.waitForMails('four@example.com', 1);
  });

  it('issue 13 item 9: requests for made-up addresses cannot silence a workspace; the ceiling counts mail sent, and a full one is logged and recorded', async () => {
    const { server, sink, workspace } = await start({ LIMIT_WORKSPACE_EMAILS_PER_HOUR: '3', LIMIT_EMAIL_COOLDOWN: '0' });
    for (let attempt = 0; attempt < 30; attempt += 1) {
      expect((await server.agent(workspace).post('/magic-login', { email: `made-up-${attempt}@example.com` })).status).toBe(200);
    }
    await settle();
    expect((await server.agent(workspace).post('/magic-login', { email: 'client@example.com' })).status).toBe(200);
    await sink.waitForMails('client@example.com', 1);

    // Real mail still meets the ceiling: two more fit in this hour, the fourth does not.
    for (const email of ['two@example.com', 'three@example.com', 'four@example.com']) await server.addClient(workspace, email);
    await server.agent(workspace).post('/magic-login', { email: 'two@example.com' });
    await server.agent(workspace).post('/forgot-password', { email: 'three@example.com' });
    await Promise.all([sink.waitForMails('two@example.com', 1), sink.waitForMails('three@example.com', 1)]);
    const limited = await server.agent(workspace).post('/magic-login', { email: 'four@example.com' });
    const unknown = await server.agent(workspace).post('/magic-login', { email: 'nobody@example.com' });
    // The asker is told nothing.
    expect(limited.status).toBe(unknown.status);
    expect(limited.body.replace(/nonce="[^"]+"/g, '').replace(/four@example\.com/g, 'X')).toBe(unknown.body.replace(/nonce="[^"]+"/g, '').replace(/nobody@example\.com/g, 'X'));
    const { listAuditEvents } = await import('../src/events/audit-events.js');
    await vi.waitFor(async () => expect((await listAuditEvents(server.portico.context.db, workspace.id, 5)).map((event) => event.type)).toContain('mail.workspace_limited'));
    const events = await listAuditEvents(server.portico.context.db, workspace.id, 5);
    expect(events.find((event) => event.type === 'mail.workspace_limited')).toMatchObject({ email: 'four@example.com', template: 'magic-link', perHour: 3 });
    await vi.waitFor(() => expect(server.logs.join('')).toContain(`workspace ${workspace.slug} has sent its 3 sign-in and reset emails of this hour`));
    await settle();
    expect(sink.mailsTo('four@example.com')).toHaveLength(0);

    // The next hour brings room again.
    server.clock.advance(3_600_000);
    await server.agent(workspace).post('/magic-login', { email: 'four@example.com' });
    await sink.waitForMails('four@example.com', 1);
  });

  it('issue 13 item 9: of 12 clients asking at once under a ceiling of 5, exactly 5 get mail', async () => {
    const { server, sink, workspace } = await start({ LIMIT_WORKSPACE_EMAILS_PER_HOUR: '5', LIMIT_EMAIL_COOLDOWN: '0' });
    const emails = Array.from({ length: 12 }, (_, index) => `together${index}@example.com`);
    for (const email of emails) await server.addClient(workspace, email);
    await Promise.all(emails.map((email) => server.agent(workspace).post('/magic-login', { email })));
    const { listAuditEvents } = await import('../src/events/audit-events.js');
    await vi.waitFor(async () => {
      const types = (await listAuditEvents(server.portico.context.db, workspace.id, 100)).map((event) => event.type);
      expect(types.filter((type) => type === 'magic_link.sent').length + types.filter((type) => type === 'mail.workspace_limited').length).toBe(12);
    }, { timeout: 10_000 });
    await settle();
    expect(emails.filter((email) => sink.mailsTo(email).length > 0)).toHaveLength(5);
  });

  it('issue 13 item 9: a mail retried after the mail server failed takes one place under the ceiling, not one per attempt', async () => {
    const { server, sink, workspace } = await start({ LIMIT_WORKSPACE_EMAILS_PER_HOUR: '2', LIMIT_EMAIL_COOLDOWN: '0' });
    for (const email of ['second@example.com', 'third@example.com']) await server.addClient(workspace, email);
    sink.refuseNext(3);
    await server.agent(workspace).post('/magic-login', { email: 'client@example.com' });
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      await sink.waitForRefused(attempt);
      server.clock.advance(61_000);
    }
    await sink.waitForMails('client@example.com', 1);
    await server.agent(workspace).post('/magic-login', { email: 'second@example.com' });
    await sink.waitForMails('second@example.com', 1);
    await server.agent(workspace).post('/magic-login', { email: 'third@example.com' });
    await settle();
    expect(sink.mailsTo('third@example.com')).toHaveLength(0);
  });

  it('limits link redemptions per IP per 5 minutes, and a workspace may set its own limits', async () => {
    const { server, workspace } = await start({ LIMIT_IP_REDEMPTIONS_PER_5_MINUTES: '4', LIMIT_IP_PER_MINUTE: '1000' });
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) statuses.push((await server.agent(workspace).post('/magic-login/verify', { token: 'y'.repeat(43) })).status);
    expect(statuses).toEqual([404, 404, 404, 404, 429]);

    const { updateWorkspace } = await import('../src/workspaces/workspaces.js');
    const strict = await server.createWorkspace('Strict');
    await updateWorkspace(server.portico.context.db, strict.slug, { limits: { limitIpPerMinute: '2' } });
    const strictStatuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) strictStatuses.push((await server.agent(strict).post('/magic-login', { email: 'x@example.com' })).status);
    expect(strictStatuses).toEqual([200, 200, 429]);
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

  it('holds each limit exactly under a burst: of 30 simultaneous POSTs from three IPs, 7 per IP pass', async () => {
    // However simultaneous hits are counted (one by one, or together in one upsert on PostgreSQL),
    // no IP gets one request more or less than its limit.
    const { server, workspace } = await start({ LIMIT_IP_PER_MINUTE: '7', TRUST_PROXY: '127.0.0.1' });
    const ips = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        server.agent(workspace).post('/magic-login', { email: `burst${index}@example.com` }, { headers: { 'x-forwarded-for': ips[index % 3]! } }),
      ),
    );
    for (const [position, ip] of ips.entries()) {
      const statuses = responses.filter((_, index) => index % 3 === position).map((response) => response.status);
      expect({ ip, passed: statuses.filter((status) => status === 200).length, refused: statuses.filter((status) => status === 429).length }).toEqual({ ip, passed: 7, refused: 3 });
    }
  });
});
