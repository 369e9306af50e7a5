import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { countWebhookDelivery } from '../src/metrics/portico-metrics.js';
import { testDialects } from './helpers/databases.js';
import { HttpAgent } from './helpers/http-agent.js';
import { PrometheusText } from './helpers/prometheus-text.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';
import { waitFor } from './helpers/wait-for.js';


/** Scrapes the server's metrics listener over HTTP and reads the answer strictly. */
async function scrape(server: TestPortico): Promise<PrometheusText> {
  const response = await fetch(`${server.portico.metricsAddress}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return new PrometheusText(await response.text());
}

/** Asks for readiness as a load balancer would: under a host no workspace owns. */
async function readiness(server: TestPortico) {
  const response = await new HttpAgent(server.portico.address, 'http://anything.example').get('/healthz/ready');
  return { status: response.status, body: response.json<Record<string, unknown>>() };
}

describe.each(testDialects)('metrics, on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(env: Record<string, string> = {}) {
    const sink = await new SmtpSink().start();
    cleanups.push(() => sink.stop());
    const server = await startTestPortico({ dialect, smtpUrl: sink.url, env: { METRICS_PORT: '0', ...env } });
    cleanups.push(() => server.stop({ dropDatabase: true }));
    return { sink, server };
  }

  it('serves /metrics on its own listener only, never on a workspace address', async () => {
    const { server } = await start();
    const workspace = await server.createWorkspace('Apart');
    expect(server.portico.metricsAddress).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.portico.metricsAddress).not.toBe(server.portico.address);
    expect((await server.agent(workspace).get('/metrics')).status).toBe(404);
    // The metrics listener answers /metrics and nothing else.
    expect((await fetch(`${server.portico.metricsAddress}/`)).status).toBe(404);
    expect((await fetch(`${server.portico.metricsAddress}/metrics`, { method: 'POST' })).status).toBe(404);
    const metrics = await scrape(server);
    for (const name of ['portico_http_request_duration_seconds', 'portico_links_issued_total', 'portico_links_used_total', 'portico_links_refused_total', 'portico_sign_in_codes_refused_total', 'portico_mails_queued_total', 'portico_mails_sent_total', 'portico_mails_failed_total', 'portico_outbox_mails', 'portico_outbox_oldest_mail_age_seconds', 'portico_outbox_oldest_due_seconds', 'portico_webhook_deliveries_total', 'portico_mail_paused']) {
      expect(metrics.families.has(name), name).toBe(true);
    }
    expect(metrics.value('portico_mail_paused')).toBe(0);
    expect(metrics.value('portico_outbox_mails')).toBe(0);
  });

  it('is not served at all without METRICS_PORT', async () => {
    const sink = await new SmtpSink().start();
    cleanups.push(() => sink.stop());
    const server = await startTestPortico({ dialect, smtpUrl: sink.url });
    cleanups.push(() => server.stop({ dropDatabase: true }));
    expect(server.portico.metricsAddress).toBeNull();
    const workspace = await server.createWorkspace('Unmetered');
    expect((await server.agent(workspace).get('/metrics')).status).toBe(404);
  });

  it('counts real sign-ins, refusals and mail, by route pattern and never by URL', async () => {
    const { sink, server } = await start();
    const workspace = await server.createWorkspace('Counted');
    await server.addClient(workspace, 'counted@example.com');
    const browser = server.agent(workspace);
    expect((await browser.post('/magic-login', { email: 'counted@example.com' })).status).toBe(200);
    // An unknown address is queued too (the answer is the same), and then comes to nothing.
    expect((await browser.post('/magic-login', { email: 'nobody@example.com' })).status).toBe(200);
    const [mail] = await sink.waitForMails('counted@example.com');
    const link = linkFromMail(mail!, workspace.url);
    const token = tokenFromLink(link);
    expect((await browser.get(`/magic-login/verify?token=${token}`)).status).toBe(200);
    expect((await browser.post('/magic-login/verify', { token })).status).toBe(303);
    expect((await server.agent(workspace).post('/magic-login/verify', { token })).status).toBe(410);
    expect((await server.agent(workspace).post('/magic-login/verify', { token: 'A'.repeat(43) })).status).toBeGreaterThanOrEqual(400);
    expect((await browser.get(`/no/such/page/${randomUUID()}`)).status).toBe(404);

    await waitFor(async () => (await scrape(server)).value('portico_mails_sent_total', { template: 'magic-link' }) === 1);
    const metrics = await scrape(server);
    expect(metrics.value('portico_mails_queued_total', { template: 'magic-link' })).toBe(2);
    expect(metrics.value('portico_links_issued_total', { kind: 'magic-link' })).toBe(1);
    expect(metrics.value('portico_links_used_total', { kind: 'sign-in' })).toBe(1);
    expect(metrics.value('portico_links_refused_total', { kind: 'sign-in', reason: 'used' })).toBe(1);
    expect(metrics.value('portico_links_refused_total', { kind: 'sign-in', reason: 'unknown' })).toBe(1);
    expect(metrics.value('portico_links_refused_total', { kind: 'sign-in', reason: 'expired' })).toBe(0);

    const requests = (labels: Record<string, string>) => metrics.value('portico_http_request_duration_seconds_count', labels);
    expect(requests({ route: '/magic-login', method: 'POST', status: '200' })).toBe(2);
    expect(requests({ route: '/magic-login/verify', method: 'GET', status: '200' })).toBe(1);
    expect(requests({ route: '/magic-login/verify', method: 'POST', status: '303' })).toBe(1);
    expect(requests({ route: '/magic-login/verify', method: 'POST', status: '410' })).toBe(1);
    expect(requests({ route: 'unmatched', method: 'GET', status: '404' })).toBeGreaterThanOrEqual(1);
    // Bounded labels: no token, query or raw path reaches a series.
    const labelValues = metrics.samples('portico_http_request_duration_seconds_count').flatMap((sample) => Object.values(sample.labels));
    expect(labelValues.filter((value) => value.includes('?') || value.includes(token) || value.includes('/no/such'))).toEqual([]);
    const post = metrics.samples('portico_http_request_duration_seconds_bucket').filter((sample) => sample.labels.route === '/magic-login' && sample.labels.method === 'POST');
    expect(post.find((sample) => sample.labels.le === '+Inf')?.value).toBe(2);
  });

  it('counts a password reset link used and refused', async () => {
    const { sink, server } = await start();
    const workspace = await server.createWorkspace('Reset');
    await server.addClient(workspace, 'reset@example.com');
    await server.agent(workspace).post('/forgot-password', { email: 'reset@example.com' });
    const [mail] = await sink.waitForMails('reset@example.com');
    const token = tokenFromLink(linkFromMail(mail!, workspace.url));
    const password = 'a long and unusual passphrase 7431';
    expect((await server.agent(workspace).post('/reset-password', { token, password })).status).toBeLessThan(400);
    expect((await server.agent(workspace).post('/reset-password', { token, password })).status).toBeGreaterThanOrEqual(400);
    const metrics = await scrape(server);
    expect(metrics.value('portico_links_issued_total', { kind: 'password-reset' })).toBe(1);
    expect(metrics.value('portico_links_used_total', { kind: 'password-reset' })).toBe(1);
    expect(metrics.value('portico_links_refused_total', { kind: 'password-reset', reason: 'used' })).toBe(1);
    expect(metrics.value('portico_mails_queued_total', { template: 'password-changed' })).toBe(1);
  });

  it('shows mail waiting and paused while the SMTP server is down, and readiness fails until it is back', async () => {
    const { sink, server } = await start();
    const workspace = await server.createWorkspace('Waiting');
    for (const index of [1, 2, 3]) await server.addClient(workspace, `waiting${index}@example.com`);
    expect((await readiness(server)).status).toBe(200);
    await sink.stop();
    for (const index of [1, 2, 3]) await server.agent(workspace).post('/magic-login', { email: `waiting${index}@example.com` });
    await waitFor(async () => (await scrape(server)).value('portico_mail_paused') === 1);
    server.clock.advance(30_000);
    const metrics = await scrape(server);
    expect(metrics.value('portico_outbox_mails')).toBe(3);
    expect(metrics.value('portico_outbox_oldest_mail_age_seconds')).toBeGreaterThanOrEqual(30);
    expect(metrics.value('portico_outbox_oldest_due_seconds')).toBeGreaterThan(0);
    expect(metrics.value('portico_mail_attempt_failures_total', { kind: 'server_unavailable' })).toBeGreaterThanOrEqual(1);
    // Any host may ask, and it says why without naming the mail server.
    const notReady = await readiness(server);
    expect(notReady).toMatchObject({ status: 503, body: { status: 'mail_paused' } });
    expect(JSON.stringify(notReady.body)).not.toContain('127.0.0.1');
    expect((await new HttpAgent(server.portico.address, 'http://anything.example').get('/healthz')).status).toBe(200);

    await sink.start();
    server.clock.advance(40_000);
    for (const index of [1, 2, 3]) await sink.waitForMails(`waiting${index}@example.com`, 1, 20_000);
    await waitFor(async () => (await scrape(server)).value('portico_outbox_mails') === 0);
    const after = await scrape(server);
    expect(after.value('portico_mail_paused')).toBe(0);
    expect(after.value('portico_mails_sent_total', { template: 'magic-link' })).toBe(3);
    expect(after.value('portico_outbox_oldest_mail_age_seconds')).toBe(0);
    expect(await readiness(server)).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('readiness fails when a due mail has waited longer than OUTBOX_STUCK_AFTER, as behind an instance that died holding it', async () => {
    const { server } = await start({ OUTBOX_STUCK_AFTER: '2m' });
    const workspace = await server.createWorkspace('Stuck');
    const now = server.clock.now();
    // Leased far ahead by an instance that is gone (an OUTBOX_LEASE set too long), due 3 minutes ago.
    await server.portico.context.db
      .insertInto('outbox')
      .values({
        id: randomUUID(), workspace_id: workspace.id, template: 'password-changed', recipient: 'stuck@example.com', payload: '{}',
        attempts: 1, next_attempt_at: now - 180_000, lease_until: now + 3_600_000, give_up_at: now + 3_600_000, last_error: null, created_at: now - 180_000, counted_at: null,
      })
      .execute();
    expect(await readiness(server)).toMatchObject({ status: 503, body: { status: 'outbox_stuck', thresholdSeconds: 120 } });
    const metrics = await scrape(server);
    expect(metrics.value('portico_outbox_oldest_due_seconds')).toBeGreaterThanOrEqual(180);
    expect(metrics.value('portico_mail_paused')).toBe(0);
    await server.portico.context.db.deleteFrom('outbox').execute();
    expect((await readiness(server)).status).toBe(200);
  });

  it('counts refused sign-in codes by reason, from real guesses at the code form', async () => {
    const { sink, server } = await start();
    const workspace = await server.createWorkspace('Coded');
    await server.addClient(workspace, 'coded@example.com');
    const browser = server.agent(workspace);
    expect((await browser.post('/magic-login', { email: 'coded@example.com' })).status).toBe(200);
    await sink.waitForMails('coded@example.com');
    expect((await browser.post('/magic-login/code', { code: '0000000000' })).status).toBe(400);
    expect((await browser.post('/magic-login/code', { code: '1111111111' })).status).toBe(400);
    expect((await browser.post('/magic-login/code', { code: 'not a code' })).status).toBe(400);
    const metrics = await scrape(server);
    expect(metrics.value('portico_sign_in_codes_refused_total', { reason: 'wrong' })).toBe(2);
    expect(metrics.value('portico_sign_in_codes_refused_total', { reason: 'malformed' })).toBe(1);
  });

  it('counts webhook deliveries through the function the delivery worker calls', async () => {
    const { server } = await start();
    countWebhookDelivery(server.portico.context, 'delivered');
    const metrics = await scrape(server);
    expect(metrics.value('portico_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
  });

  it('two instances on one database each count their own requests, and show the same outbox', async () => {
    const { server: first, sink } = await start();
    const second = await startTestPortico({ dialect, smtpUrl: sink.url, database: first.database, env: { METRICS_PORT: '0' } });
    cleanups.push(() => second.stop());
    const workspace = await first.createWorkspace('Shared');
    await first.agent(workspace).get('/magic-login');
    // The workspace's address is served by the first instance's port; the second is asked directly.
    const atSecond = new HttpAgent(second.portico.address, workspace.url);
    await atSecond.get('/magic-login');
    await atSecond.get('/magic-login');
    const [a, b] = await Promise.all([scrape(first), scrape(second)]);
    const getLogin = { route: '/magic-login', method: 'GET', status: '200' };
    expect(a.value('portico_http_request_duration_seconds_count', getLogin)).toBe(1);
    expect(b.value('portico_http_request_duration_seconds_count', getLogin)).toBe(2);
    expect(a.value('portico_outbox_mails')).toBe(b.value('portico_outbox_mails'));
  });
});
