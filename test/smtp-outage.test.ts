import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { testDialects } from './helpers/databases.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';
import { waitFor as waitForCondition } from './helpers/wait-for.js';

/**
 * A TCP door in front of the SMTP sink that counts every connection Portico opens. Down, it resets
 * each connection as it arrives (what Portico sees of a mail server that refuses connections);
 * up, it passes them through to the sink.
 */
class CountingSmtpDoor {
  connections = 0;
  down = false;
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((socket) => {
    this.connections += 1;
    if (this.down) return socket.resetAndDestroy();
    const upstream = net.connect(this.sink.port, '127.0.0.1');
    for (const end of [socket, upstream]) {
      this.sockets.add(end);
      end.on('close', () => this.sockets.delete(end));
      end.on('error', () => {});
    }
    socket.pipe(upstream).pipe(socket);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });

  constructor(private readonly sink: SmtpSink) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** Goes down: pooled connections are cut, new ones are reset. */
  goDown(): void {
    this.down = true;
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    this.goDown();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** This file's waits allow 15 s: an outage's probes back off for seconds at a time. */
const waitFor = (condition: () => Promise<boolean> | boolean, timeoutMs = 15_000) => waitForCondition(condition, timeoutMs);

interface LogLine {
  level: number;
  msg: string;
}

function logLines(server: TestPortico): LogLine[] {
  return server.logs.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((line) => JSON.parse(line) as LogLine);
}

/** The lines an outage is allowed: one when mail stops, the summaries, one when it flows again. */
function outageLines(server: TestPortico) {
  const lines = logLines(server);
  const mailWarnings = lines.filter((line) => line.level >= 40 && /mail/i.test(line.msg));
  const kinds = ['mail stopped flowing', 'mail still stopped', 'mail flows again'];
  return {
    stopped: mailWarnings.filter((line) => line.msg.startsWith(kinds[0]!)),
    summaries: mailWarnings.filter((line) => line.msg.startsWith(kinds[1]!)),
    // A warning too, so that LOG_LEVEL=warn shows the end of what it showed the start of.
    flowing: mailWarnings.filter((line) => line.msg.startsWith(kinds[2]!)),
    others: mailWarnings.filter((line) => !kinds.some((kind) => line.msg.startsWith(kind))),
  };
}

async function isPaused(server: TestPortico): Promise<boolean> {
  const text = await (await fetch(`${server.portico.metricsAddress}/metrics`)).text();
  return /^portico_mail_paused 1$/m.test(text);
}

/** What each test started, stopped after it, last first. */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A mail sink behind a door that counts connections and can refuse them all. */
async function setUp() {
  const sink = await new SmtpSink().start();
  cleanups.push(() => sink.stop());
  const door = await new CountingSmtpDoor(sink).start();
  cleanups.push(() => door.stop());
  return { sink, door };
}

describe.each(testDialects)('issue 19 item 4: an SMTP outage is one event, on %s', (dialect) => {
  it('with the mail server refusing connections, 60 queued mails cost a bounded number of connection attempts and log lines, and all arrive once, when it is back', async () => {
    const { sink, door } = await setUp();
    const server = await startTestPortico({ dialect, smtpUrl: door.url, env: { METRICS_PORT: '0' } });
    cleanups.push(() => server.stop({ dropDatabase: true }));
    const workspace = await server.createWorkspace('Outage');
    const emails = Array.from({ length: 60 }, (_, index) => `waiting${index}@example.com`);
    for (const email of emails) await server.addClient(workspace, email);

    door.goDown();
    const agent = server.agent(workspace);
    for (const email of emails) expect((await agent.post('/magic-login', { email })).status).toBe(200);
    await waitFor(() => isPaused(server));
    // Two minutes of outage: each minute a summary is due, and the probes back off meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    server.clock.advance(60_000);
    await waitFor(() => outageLines(server).summaries.length === 1);
    server.clock.advance(60_000);
    await waitFor(() => outageLines(server).summaries.length === 2);
    const attemptsWhileDown = door.connections;
    // The mails handed to the transport when the outage began (10) and one per probe (a few here),
    // where each of the 60 mails used to try, and try again at each of its retries.
    expect(attemptsWhileDown).toBeGreaterThanOrEqual(1);
    expect(attemptsWhileDown).toBeLessThanOrEqual(20);
    const whileDown = outageLines(server);
    expect(whileDown.stopped).toHaveLength(1);
    expect(whileDown.summaries[1]!.msg).toMatch(/^mail still stopped after 2 min \d+ s: 60 mail\(s\) waiting, the oldest queued 2 min \d+ s ago/);
    expect(whileDown.others).toEqual([]);
    expect(whileDown.flowing).toEqual([]);

    door.down = false;
    server.clock.advance(40_000); // Past the longest wait between probes.
    for (const email of emails) await sink.waitForMails(email, 1, 30_000);
    await waitFor(async () => (await server.portico.context.db.selectFrom('outbox').select('id').execute()).length === 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Each mail once: none lost, none sent twice.
    for (const email of emails) expect(sink.mailsTo(email)).toHaveLength(1);
    const after = outageLines(server);
    expect(after.stopped).toHaveLength(1);
    expect(after.flowing).toHaveLength(1);
    expect(after.flowing[0]!.msg).toMatch(/^mail flows again: the mail server answered after 2 min \d+ s stopped; 59 mail\(s\) waiting go out now$/);
    expect(after.others).toEqual([]);
    expect(await isPaused(server)).toBe(false);
  });

  it('a mail the server refuses for itself while others flow does not pause sending', async () => {
    const { sink, door } = await setUp();
    const server = await startTestPortico({ dialect, smtpUrl: door.url, env: { METRICS_PORT: '0' } });
    cleanups.push(() => server.stop({ dropDatabase: true }));
    const workspace = await server.createWorkspace('Picky');
    await server.addClient(workspace, 'refused@example.com');
    await server.addClient(workspace, 'fine@example.com');
    sink.refuseNext(1, 550);
    await server.agent(workspace).post('/magic-login', { email: 'refused@example.com' });
    await sink.waitForRefused(1);
    await server.agent(workspace).post('/magic-login', { email: 'fine@example.com' });
    await sink.waitForMails('fine@example.com');
    expect(await isPaused(server)).toBe(false);
    expect(outageLines(server).stopped).toEqual([]);
    // Issue 13's per-mail rule still holds: the refusal counted against that mail alone.
    const [row] = await server.portico.context.db.selectFrom('outbox').select(['failures', 'recipient']).execute();
    expect(row).toMatchObject({ failures: 1, recipient: 'refused@example.com' });
  });
});

describe('issue 19 item 4: instances sharing PostgreSQL during an SMTP outage', () => {
  const dialect = 'postgres' as const;
  it('two instances sharing the database each pause on their own, and every mail arrives exactly once', async () => {
    const { sink, door } = await setUp();
    const first = await startTestPortico({ dialect, smtpUrl: door.url, env: { METRICS_PORT: '0' } });
    cleanups.push(() => first.stop({ dropDatabase: true }));
    const second = await startTestPortico({ dialect, smtpUrl: door.url, database: first.database, env: { METRICS_PORT: '0' }, clock: first.clock });
    cleanups.push(() => second.stop());
    const workspace = await first.createWorkspace('Pair');
    const emails = Array.from({ length: 40 }, (_, index) => `pair${index}@example.com`);
    for (const email of emails) await first.addClient(workspace, email);

    door.goDown();
    const agent = first.agent(workspace);
    for (const email of emails) await agent.post('/magic-login', { email });
    await waitFor(async () => (await isPaused(first)) && (await isPaused(second)));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(door.connections).toBeLessThanOrEqual(2 * 20);

    door.down = false;
    first.clock.advance(40_000);
    for (const email of emails) await sink.waitForMails(email, 1, 30_000);
    await waitFor(async () => !(await isPaused(first)) && !(await isPaused(second)), 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const email of emails) expect(sink.mailsTo(email)).toHaveLength(1);
    for (const server of [first, second]) {
      const lines = outageLines(server);
      expect(lines.stopped).toHaveLength(1);
      expect(lines.flowing).toHaveLength(1);
      expect(lines.others).toEqual([]);
    }
  });
});
