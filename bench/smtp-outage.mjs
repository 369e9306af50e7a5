// The SMTP outage case of `npm run bench` (issue 19 item 4); alone: BENCH_ONLY=smtp-outage.
//
// Portico (its own process, SQLite, production settings) gets sign-in requests at a steady pace
// (BENCH_OUTAGE_RATE, 400 a second), first with the mail server up (BENCH_OUTAGE_BASELINE_SECONDS,
// 10 s), then with it refusing every connection (BENCH_OUTAGE_SECONDS, 30 s): a TCP door in front of
// the SMTP sink resets each connection while "down", and counts them. Reported: request p99 and max
// in both phases, the log lines and connection attempts while down, and, once the server is back,
// how long until the first mail and the drain rate of the mails that waited. Every request is for a
// distinct imported client, so each must come out as exactly one mail.
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { SMTPServer } from 'smtp-server';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function get(url) {
  return new Promise((resolve) => {
    http.get(url, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
    }).on('error', () => resolve(0));
  });
}

/** A real SMTP sink behind a door that, while down, resets every connection as it arrives. */
async function startSinkBehindDoor() {
  const state = { mails: 0, connections: 0, down: false, twice: 0 };
  // Every request is for an address of its own: a recipient seen twice is a mail sent twice.
  const recipients = new Set();
  const sink = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, done) {
      stream.resume();
      stream.on('end', () => {
        state.mails += 1;
        for (const { address } of session.envelope.rcptTo) {
          if (recipients.has(address)) state.twice += 1;
          recipients.add(address);
        }
        done();
      });
    },
  });
  // The door cuts open connections when the outage starts: the sink sees them reset, as expected.
  sink.on('error', () => {});
  await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const open = new Set();
  const door = net.createServer((socket) => {
    state.connections += 1;
    if (state.down) return socket.resetAndDestroy();
    const upstream = net.connect(sink.server.address().port, '127.0.0.1');
    // SMTP is a conversation of small writes: with Nagle's algorithm on the door's two sockets, each
    // turn waits for a delayed ACK (40 ms), which held the drain to ~60 mails/s, a figure of the
    // door rather than of Portico.
    socket.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const end of [socket, upstream]) {
      open.add(end);
      end.on('close', () => open.delete(end));
      end.on('error', () => {});
    }
    socket.pipe(upstream).pipe(socket);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  await new Promise((resolve) => door.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `smtp://127.0.0.1:${door.address().port}`,
    goDown() {
      state.down = true;
      for (const socket of open) socket.destroy();
    },
    comeBack() {
      state.down = false;
    },
    async close() {
      this.goDown();
      await new Promise((resolve) => door.close(resolve));
      await new Promise((resolve) => sink.close(resolve));
    },
  };
}

/** Runs the outage case and prints its lines; returns its figures for the summary. */
export async function benchSmtpOutage({ folder, cli, databaseUrl, label = 'SQLite' }) {
  const rate = Number(process.env.BENCH_OUTAGE_RATE ?? 400);
  const downSeconds = Number(process.env.BENCH_OUTAGE_SECONDS ?? 30);
  const baselineSeconds = Number(process.env.BENCH_OUTAGE_BASELINE_SECONDS ?? 10);
  const smtp = await startSinkBehindDoor();
  const env = {
    NODE_ENV: 'production', DATABASE_URL: databaseUrl, SMTP_URL: smtp.url, LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: '0',
    LIMIT_IP_PER_MINUTE: '1000000000', LIMIT_IP_REDEMPTIONS_PER_5_MINUTES: '1000000000', LIMIT_WORKSPACE_EMAILS_PER_HOUR: '1000000000',
  };
  const workspaceUrl = 'http://outage.test:8080';
  const run = (args) => execFileSync(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH, ...env } });
  run(['workspace', 'create', '--name', 'Outage', '--url', workspaceUrl, '--slug', 'outage']);
  const clients = Math.ceil(rate * (baselineSeconds + downSeconds) * 1.2) + 1000;
  const csv = join(folder, 'outage-clients.csv');
  writeFileSync(csv, ['email,name', ...Array.from({ length: clients }, (_, index) => `outage${index}@example.com,Client ${index}`)].join('\n'));
  run(['client', 'import', '--workspace', 'outage', csv]);

  const child = spawn(process.execPath, [cli, 'serve'], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const stop = () => child.kill('SIGTERM');
  process.once('exit', stop);
  let address = null;
  for (let waited = 0; !address; waited += 10) {
    if (child.exitCode !== null || waited > 30_000) throw new Error(`Portico did not start:\n${output}`);
    address = /listening on (http:\/\/\S+) /.exec(output)?.[1] ?? null;
    await sleep(10);
  }
  while ((await get(`${address}/healthz`)) !== 200) await sleep(10);

  let next = 0;
  const load = (duration) =>
    autocannon({
      url: `${address}/magic-login`,
      connections: 20,
      overallRate: rate,
      duration,
      requests: [
        {
          method: 'POST',
          path: '/magic-login',
          headers: { host: new URL(workspaceUrl).host, origin: workspaceUrl, 'content-type': 'application/x-www-form-urlencoded' },
          setupRequest: (request) => ({ ...request, body: `email=outage${next++ % clients}%40example.com` }),
        },
      ],
    });
  const answered = (result) => result.statusCodeStats?.['200']?.count ?? 0;
  const waitForMails = async (expected, quietMs) => {
    let last = -1;
    let lastChange = performance.now();
    while (smtp.state.mails < expected && performance.now() - lastChange < quietMs) {
      if (smtp.state.mails !== last) {
        last = smtp.state.mails;
        lastChange = performance.now();
      }
      await sleep(20);
    }
  };

  console.log(`\nSMTP outage on ${label}: ${rate} sign-in requests a second, ${baselineSeconds} s with the mail server up, then ${downSeconds} s with it refusing every connection`);
  const up = await load(baselineSeconds);
  let expected = answered(up);
  await waitForMails(expected, 10_000);
  console.log(`  ${'SMTP up'.padEnd(34)} p99 ${up.latency.p99} ms  max ${up.latency.max} ms  (${answered(up)}/${up.requests.total} answered 200, ${up.errors + up.timeouts} errors)`);

  smtp.goDown();
  const logFrom = output.length;
  const connectionsFrom = smtp.state.connections;
  const down = await load(downSeconds);
  expected += answered(down);
  const linesWhileDown = output.slice(logFrom).split('\n').filter(Boolean);
  const connectionsWhileDown = smtp.state.connections - connectionsFrom;
  const kinds = {
    stopped: linesWhileDown.filter((line) => line.includes('mail stopped flowing')).length,
    summaries: linesWhileDown.filter((line) => line.includes('mail still stopped')).length,
  };
  console.log(`  ${'SMTP down'.padEnd(34)} p99 ${down.latency.p99} ms  max ${down.latency.max} ms  (${answered(down)}/${down.requests.total} answered 200, ${down.errors + down.timeouts} errors)`);
  console.log(`  ${'while down'.padEnd(34)} ${linesWhileDown.length} log lines (${kinds.stopped} "mail stopped flowing", ${kinds.summaries} summaries, ${linesWhileDown.length - kinds.stopped - kinds.summaries} other), ${connectionsWhileDown} connection attempts to the mail server`);

  const waiting = expected - smtp.state.mails;
  const mailsBefore = smtp.state.mails;
  smtp.comeBack();
  const backAt = performance.now();
  let firstAt = null;
  const watchFirst = setInterval(() => {
    if (firstAt === null && smtp.state.mails > mailsBefore) firstAt = performance.now();
  }, 5);
  // The next probe comes within 36 s (30 s with jitter); then the rest drains.
  await waitForMails(expected, 70_000);
  clearInterval(watchFirst);
  const doneAt = performance.now();
  const drained = smtp.state.mails - mailsBefore;
  const firstSeconds = ((firstAt ?? doneAt) - backAt) / 1000;
  const drainSeconds = (doneAt - (firstAt ?? backAt)) / 1000;
  const drainRate = drained / Math.max(drainSeconds, 0.001);
  console.log(`  ${'once it is back'.padEnd(34)} first mail after ${firstSeconds.toFixed(1)} s (the next probe), then ${drained} of ${waiting} waiting mails in ${drainSeconds.toFixed(1)} s: ${drainRate.toFixed(0)} mails/s; ${smtp.state.mails} mails in all for ${expected} requests answered 200 (requests in flight when the load stopped are answered too), ${smtp.state.twice} sent twice`);

  process.off('exit', stop);
  stop();
  await new Promise((resolve) => child.once('exit', resolve));
  await smtp.close();
  return { label, rate, up, down, linesWhileDown: linesWhileDown.length, connectionsWhileDown, firstSeconds, drainRate, delivered: smtp.state.mails, expected, twice: smtp.state.twice };
}
