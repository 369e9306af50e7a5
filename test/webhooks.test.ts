import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { isAppError } from '../src/errors.js';
import { addWebhookEndpoint } from '../src/webhooks/webhook-endpoints.js';
import { sendWebhook } from '../src/webhooks/webhook-sender.js';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import { runPorticoCommand } from './helpers/portico-process.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { TestClock } from './helpers/test-clock.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';
import { waitFor } from './helpers/wait-for.js';

// issue 19 item 2: signed webhooks, from real actions over HTTP and the CLI to a receiver on
// loopback that verifies every delivery with the Standard Webhooks library, on both databases.

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  path: string;
  /** The status the receiver answered. */
  answered: number;
  /** The payload as the library verified it; null when the signature did not verify. */
  verified: { type: string; timestamp: string; data: Record<string, unknown> } | null;
}

/** A webhook receiver on loopback: verifies each request with `secret` and answers `status`. */
class Receiver {
  readonly received: Received[] = [];
  status = 204;
  secret = '';
  private server: Server | null = null;

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        let verified: Received['verified'] = null;
        try {
          verified = new Webhook(this.secret).verify(body, request.headers as Record<string, string>) as Received['verified'];
        } catch {
          verified = null;
        }
        this.received.push({ headers: request.headers, body, path: request.url ?? '', verified, answered: this.status });
        if (this.status === 302) response.writeHead(302, { location: '/elsewhere' }).end();
        else response.writeHead(this.status).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hooks`;
  }

  /** The verified events of a type; every request so far must have verified. */
  ofType(type: string) {
    return this.received.filter((entry) => entry.verified?.type === type);
  }

  async waitFor(predicate: () => boolean, what: string): Promise<void> {
    for (let waited = 0; waited < 15_000; waited += 50) {
      if (predicate()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}; received ${this.received.map((entry) => entry.verified?.type ?? 'unverified').join(', ')}`);
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

const strongPassword = 'velvet otter climbs quiet harbor';
const newPassword = 'copper kettle hums at dawn';

// Several tests run CLI commands, a process each (about 0.9 s of CPU to start): beside the CLI's
// own test file on two cores, they wait their turns well past the default 30 s.
vi.setConfig({ testTimeout: 180_000 });

describe.each(testDialects)('signed webhooks on %s', (dialect) => {
  let sink: SmtpSink;
  let receiver: Receiver;
  let server: TestPortico;
  let clock: TestClock;
  let acme: Workspace;
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    receiver = await new Receiver().start();
    clock = new TestClock();
    server = await startTestPortico({ dialect, smtpUrl: sink.url, clock, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    acme = await server.createWorkspace('Acme');
    cliEnv = { DATABASE_URL: server.database.url, WEBHOOK_ALLOW_PRIVATE: 'true' };
  });

  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await receiver?.stop();
    await sink?.stop();
  });

  async function cli(args: string[], env: Record<string, string> = cliEnv) {
    return runPorticoCommand([...args, '--json'], env);
  }

  it('delivers every event of real actions, each signed, to an endpoint added with the CLI', async () => {
    const added = await cli(['webhook', 'add', '--workspace', acme.slug, '--url', receiver.url]);
    expect(added.stderr).toBe('');
    const endpoint = JSON.parse(added.stdout) as { id: string; url: string; events: string[]; secret: string };
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(endpoint.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(endpoint.events).toEqual(['*']);
    receiver.secret = endpoint.secret;

    // client.added, from the CLI.
    expect((await cli(['client', 'add', '--workspace', acme.slug, '--email', 'ada@example.com', '--name', 'Ada'])).code).toBe(0);
    await receiver.waitFor(() => receiver.ofType('client.added').length === 1, 'client.added');
    const addedEvent = receiver.ofType('client.added')[0]!.verified!;
    const client = addedEvent.data.client as { id: string; email: string };
    expect(addedEvent.data).toMatchObject({ workspace: acme.slug, client: { email: 'ada@example.com' }, name: 'Ada' });

    // magic_link.requested and client.signed_in by link.
    const browser = server.agent(acme);
    await browser.post('/magic-login', { email: 'ada@example.com' });
    const [mail] = await sink.waitForMails('ada@example.com', 1);
    const token = tokenFromLink(linkFromMail(mail!, acme.url));
    expect((await browser.post('/magic-login/verify', { token })).status).toBe(303);
    await receiver.waitFor(() => receiver.ofType('client.signed_in').length === 1, 'client.signed_in (link)');
    await receiver.waitFor(() => receiver.ofType('magic_link.requested').length === 1, 'magic_link.requested');
    expect(receiver.ofType('magic_link.requested')[0]!.verified!.data).toEqual({ workspace: acme.slug, client, outcome: 'link_queued' });
    expect(receiver.ofType('client.signed_in')[0]!.verified!.data).toEqual({ workspace: acme.slug, client, door: 'link' });

    // An address that is not a client sends nothing to the owner's webhook.
    await server.agent(acme).post('/magic-login', { email: 'stranger@example.com' });

    // client.signed_in by password.
    await server.portico.context.db.updateTable('clients').set({ password_hash: await hashPassword(strongPassword) }).where('id', '=', client.id).execute();
    const laptop = server.agent(acme);
    expect((await laptop.post('/login', { email: 'ada@example.com', password: strongPassword })).status).toBe(303);
    await receiver.waitFor(() => receiver.ofType('client.signed_in').length === 2, 'client.signed_in (password)');
    expect(receiver.ofType('client.signed_in')[1]!.verified!.data).toEqual({ workspace: acme.slug, client, door: 'password' });

    // password.changed, and session.ended for the browser it signed out.
    expect((await laptop.post('/account/password', { current_password: strongPassword, new_password: newPassword })).status).toBe(303);
    await receiver.waitFor(() => receiver.ofType('password.changed').length === 1 && receiver.ofType('session.ended').length === 1, 'password.changed');
    expect(receiver.ofType('password.changed')[0]!.verified!.data).toEqual({ workspace: acme.slug, client, change: 'changed' });
    expect(receiver.ofType('session.ended')[0]!.verified!.data).toEqual({ workspace: acme.slug, client, reason: 'password_changed', sessions: 1 });

    // client.signed_out.
    await laptop.post('/logout', {});
    await receiver.waitFor(() => receiver.ofType('client.signed_out').length === 1, 'client.signed_out');
    expect(receiver.ofType('client.signed_out')[0]!.verified!.data).toEqual({ workspace: acme.slug, client });

    // client.disabled (with session.ended for the session it ended), from the CLI.
    const phone = server.agent(acme);
    expect((await phone.post('/login', { email: 'ada@example.com', password: newPassword })).status).toBe(303);
    expect((await cli(['client', 'disable', '--workspace', acme.slug, '--email', 'ada@example.com'])).code).toBe(0);
    await receiver.waitFor(() => receiver.ofType('client.disabled').length === 1 && receiver.ofType('session.ended').length === 2, 'client.disabled');
    expect(receiver.ofType('client.disabled')[0]!.verified!.data).toEqual({ workspace: acme.slug, client, sessionsEnded: 1 });
    expect(receiver.ofType('session.ended')[1]!.verified!.data).toEqual({ workspace: acme.slug, client, reason: 'client_disabled', sessions: 1 });

    // Every request verified, carried the three headers, and was JSON.
    expect(receiver.received.every((entry) => entry.verified !== null)).toBe(true);
    expect(receiver.received.every((entry) => entry.headers['content-type'] === 'application/json' && entry.path === '/hooks')).toBe(true);
    expect(receiver.received.some((entry) => entry.body.includes('stranger'))).toBe(false);
    // Nothing a client could use to sign in travels in a webhook.
    expect(receiver.received.some((entry) => entry.body.includes(token))).toBe(false);

    // The record of attempts, by the CLI.
    const deliveries = JSON.parse((await cli(['webhook', 'deliveries', '--workspace', acme.slug])).stdout) as { eventId: string; type: string; statusCode: number; delivered: boolean; endpointId: string }[];
    expect(deliveries.length).toBe(receiver.received.length);
    expect(deliveries.every((attempt) => attempt.statusCode === 204 && attempt.delivered && attempt.endpointId === endpoint.id)).toBe(true);
    expect(new Set(deliveries.map((attempt) => attempt.eventId))).toEqual(new Set(receiver.received.map((entry) => entry.headers['webhook-id'])));

    const removed = await cli(['webhook', 'remove', '--workspace', acme.slug, '--id', endpoint.id]);
    expect(JSON.parse(removed.stdout)).toEqual({ id: endpoint.id, url: receiver.url, removed: true });
  });

  it('keeps events while the receiver is down and across a restart, then delivers each, signed, under the same webhook-id', async () => {
    const globex = await server.createWorkspace('Globex');
    receiver.received.length = 0;
    receiver.status = 503;
    const { secret } = await addWebhookEndpoint(server.portico.context.db, clock, globex, { url: receiver.url, events: 'client.added' }, { allowPrivate: true });
    receiver.secret = secret;
    for (const name of ['one', 'two', 'three']) await server.addClient(globex, `${name}@example.com`);
    await receiver.waitFor(() => receiver.received.length >= 3, 'first attempts');
    const firstIds = new Set(receiver.received.map((entry) => entry.headers['webhook-id']));
    expect(firstIds.size).toBe(3);
    expect(receiver.received.every((entry) => entry.answered === 503)).toBe(true);

    // A restart in between: the events are in the database, not in the stopped process.
    await server.stop();
    server = await startTestPortico({ dialect, smtpUrl: sink.url, clock, database: server.database, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    receiver.status = 200;
    // The first retry is due within 30 s of the failure.
    clock.advance(30_000);
    await receiver.waitFor(() => receiver.received.filter((entry) => entry.answered === 200).length === 3, 'retries after the restart');
    const delivered = receiver.received.filter((entry) => entry.answered === 200);
    expect(new Set(delivered.map((entry) => entry.headers['webhook-id']))).toEqual(firstIds);
    expect(receiver.received.every((entry) => entry.verified !== null)).toBe(true);
    expect(delivered.map((entry) => (entry.verified!.data.client as { email: string }).email).sort()).toEqual(['one@example.com', 'three@example.com', 'two@example.com']);

    // Nothing more once delivered, however long one waits.
    const count = receiver.received.length;
    clock.advance(25 * 3600_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received.length).toBe(count);

    const attempts = JSON.parse((await cli(['webhook', 'deliveries', '--workspace', globex.slug])).stdout) as { eventId: string; attempt: number; statusCode: number; delivered: boolean }[];
    expect(attempts.length).toBe(count);
    for (const id of firstIds) {
      const ofEvent = attempts.filter((attempt) => attempt.eventId === id).sort((a, b) => a.attempt - b.attempt);
      expect(ofEvent.map((attempt) => [attempt.attempt, attempt.statusCode, attempt.delivered])).toEqual([
        ...ofEvent.slice(0, -1).map((attempt) => [attempt.attempt, 503, false]),
        [ofEvent.length, 200, true],
      ]);
    }
  }, 180_000);

  it('gives an event up after a day of failures, each attempt recorded, and follows no redirect', async () => {
    const initech = await server.createWorkspace('Initech');
    receiver.received.length = 0;
    receiver.status = 302;
    const { secret } = await addWebhookEndpoint(server.portico.context.db, clock, initech, { url: receiver.url }, { allowPrivate: true });
    receiver.secret = secret;
    await server.addClient(initech, 'peter@example.com');
    await receiver.waitFor(() => receiver.received.length === 1, 'the first attempt');
    // The worker records an attempt (and when the next is due, from its clock) after the receiver
    // has answered: the clock moves only once it has, or the next retry lands after the step.
    const attemptsRecorded = (count: number) =>
      waitFor(
        async () => {
          const row = await server.portico.context.db.selectFrom('webhook_attempts').select((eb) => eb.fn.countAll<number>().as('count')).where('workspace_id', '=', initech.id).executeTakeFirstOrThrow();
          return Number(row.count) >= count;
        },
        15_000,
        `${count} recorded attempts`,
      );
    // Steps longer than the longest wait between retries (8 h): one retry each, the last at the day's end.
    for (let step = 1; step <= 3; step += 1) {
      await attemptsRecorded(step);
      clock.advance(9 * 3600_000);
      await receiver.waitFor(() => receiver.received.length === step + 1, `retry ${step}`);
    }
    const count = receiver.received.length;
    await attemptsRecorded(count);
    clock.advance(48 * 3600_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.received.length).toBe(count);
    expect(receiver.received.every((entry) => entry.path === '/hooks')).toBe(true); // never /elsewhere
    const attempts = JSON.parse((await cli(['webhook', 'deliveries', '--workspace', initech.slug])).stdout) as { statusCode: number; delivered: boolean }[];
    expect(count).toBe(4);
    expect(attempts.length).toBe(count);
    expect(attempts.every((attempt) => attempt.statusCode === 302 && !attempt.delivered)).toBe(true);
    const [row] = await server.portico.context.db.selectFrom('webhook_deliveries').select(['state']).where('workspace_id', '=', initech.id).execute();
    expect(row!.state).toBe('failed');
  }, 180_000);

  it('refuses internal addresses when added unless WEBHOOK_ALLOW_PRIVATE=true, and again when delivering', async () => {
    const db = server.portico.context.db;
    const port = new URL(receiver.url).port;
    for (const url of ['http://127.0.0.1/hooks', 'http://10.1.2.3/hooks', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/hooks', `http://localhost:${port}/hooks`, 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0/', 'http://192.168.1.1/', 'http://[fe80::1]/']) {
      const refusal = await addWebhookEndpoint(db, clock, acme, { url }, { allowPrivate: false }).catch((error: unknown) => error);
      expect(isAppError(refusal, 'WEBHOOK_URL_REFUSED'), url).toBe(true);
    }
    for (const url of ['ftp://example.com/hooks', 'https://user:pass@example.com/hooks', 'not a url', 'file:///etc/passwd']) {
      const refusal = await addWebhookEndpoint(db, clock, acme, { url }, { allowPrivate: false }).catch((error: unknown) => error);
      expect(isAppError(refusal, 'WEBHOOK_URL_INVALID'), url).toBe(true);
    }
    // The CLI says so on one line and exits non-zero.
    const refused = await runPorticoCommand(['webhook', 'add', '--workspace', acme.slug, '--url', 'http://169.254.169.254/'], { DATABASE_URL: server.database.url });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/WEBHOOK_ALLOW_PRIVATE=true/);
    // At delivery: a name that resolves to loopback by then is refused and nothing is sent.
    receiver.received.length = 0;
    const result = await sendWebhook({ url: `http://localhost:${port}/hooks`, secret: receiver.secret, eventId: 'msg_x', payload: '{}' }, { timeoutMs: 2000, allowPrivate: false });
    expect(result.statusCode).toBeNull();
    expect(result.error).toMatch(/^refused: localhost resolves to/);
    expect(receiver.received).toHaveLength(0);
    expect(await db.selectFrom('webhook_endpoints').select('id').where('workspace_id', '=', acme.id).execute()).toEqual([]);
  });

  it('manages endpoints with the CLI: list shows no secret, test sends to one endpoint, bad input is one line', async () => {
    receiver.received.length = 0;
    receiver.status = 200;
    const hooli = await server.createWorkspace('Hooli');
    const added = JSON.parse((await cli(['webhook', 'add', '--workspace', hooli.slug, '--url', receiver.url, '--events', 'client.added,client.disabled'])).stdout) as { id: string; secret: string };
    receiver.secret = added.secret;
    const listed = JSON.parse((await cli(['webhook', 'list', '--workspace', hooli.slug])).stdout) as Record<string, unknown>[];
    expect(listed).toEqual([{ id: added.id, url: receiver.url, events: ['client.added', 'client.disabled'], createdAt: expect.any(String) }]);
    expect(JSON.stringify(listed)).not.toContain(added.secret);
    // Another workspace's endpoint is not found.
    const other = await cli(['webhook', 'test', '--workspace', acme.slug, '--id', added.id]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/No webhook endpoint/);
    const tested = JSON.parse((await cli(['webhook', 'test', '--workspace', hooli.slug, '--id', added.id])).stdout) as { eventId: string; type: string };
    expect(tested.type).toBe('webhook.test');
    await receiver.waitFor(() => receiver.ofType('webhook.test').length === 1, 'webhook.test');
    expect(receiver.ofType('webhook.test')[0]!.headers['webhook-id']).toBe(tested.eventId);
    // An event it did not subscribe to is not sent.
    await server.addClient(hooli, 'gavin@example.com');
    await receiver.waitFor(() => receiver.ofType('client.added').length === 1, 'client.added');
    const signIn = server.agent(hooli);
    await signIn.post('/magic-login', { email: 'gavin@example.com' });
    await sink.waitForMails('gavin@example.com', 1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(receiver.ofType('magic_link.requested')).toHaveLength(0);

    const badEvents = await cli(['webhook', 'add', '--workspace', hooli.slug, '--url', receiver.url, '--events', 'client.added,client.exploded']);
    expect(badEvents.code).toBe(1);
    expect(badEvents.stderr).toMatch(/client\.exploded/);
    const text = await runPorticoCommand(['webhook', 'deliveries', '--workspace', hooli.slug], cliEnv);
    expect(text.stdout).toMatch(/webhook\.test/);
    expect(receiver.received.every((entry) => entry.verified !== null)).toBe(true);
  });

  it('delivers each event once when two instances share the database', async () => {
    const umbrella = await server.createWorkspace('Umbrella');
    receiver.received.length = 0;
    receiver.status = 200;
    const { secret } = await addWebhookEndpoint(server.portico.context.db, clock, umbrella, { url: receiver.url, events: 'client.added' }, { allowPrivate: true });
    receiver.secret = secret;
    const second = await startTestPortico({ dialect, smtpUrl: sink.url, clock, database: server.database, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    try {
      await Promise.all(Array.from({ length: 30 }, (_, index) => server.addClient(umbrella, `c${index}@example.com`)));
      await receiver.waitFor(() => receiver.received.length >= 30, '30 events');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const ids = receiver.received.map((entry) => entry.headers['webhook-id']);
      expect(ids).toHaveLength(30);
      expect(new Set(ids).size).toBe(30);
    } finally {
      await second.stop();
    }
  }, 180_000);
});
