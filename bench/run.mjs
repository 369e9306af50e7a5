#!/usr/bin/env node
// npm run bench: Portico's hot paths under load, beside a minimal yardstick measured in the same
// run (issue 6). Everything runs on this machine over loopback: Portico and the yardstick as their
// own processes, a real SMTP sink and autocannon (50 connections, 10 s after a 2 s warm-up) here.
//
// Rate limits stay on: every request still runs every limit check (the database upserts), with the
// limits raised through their documented settings (LIMIT_*), and 200,000 imported clients so that
// no per-address limit answers early. Set BENCH_SECONDS to shorten a run, BENCH_DATABASES=sqlite (or
// postgres) to run one database only, and PORTICO_NODE_OPTIONS (e.g. --cpu-prof) for Portico itself.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const warmupSeconds = 2;
const connections = 50;
const clientCount = 200_000;
const folder = mkdtempSync(join(tmpdir(), 'portico-bench-'));
const cli = new URL('../bin/portico.js', import.meta.url).pathname;
const workspaceUrl = 'http://bench.test:8080';
const results = [];

// --- SMTP sink: counts mails and keeps the sign-in tokens they carry -------------------------------
const tokens = [];
// Every sign-in mail carries a token of its own: one seen twice is a mail sent twice.
const tokensSeen = new Set();
let mailsSentTwice = 0;
let mailCount = 0;
const sink = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, _session, done) {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => (text += chunk));
    stream.on('end', () => {
      mailCount += 1;
      const match = /magic-login\/verify\?token=3D([A-Za-z0-9_-]{43})|magic-login\/verify\?token=([A-Za-z0-9_-]{43})/.exec(text.replace(/=\r?\n/g, ''));
      const token = match?.[1] ?? match?.[2];
      if (token && tokensSeen.has(token)) mailsSentTwice += 1;
      else if (token) {
        tokensSeen.add(token);
        tokens.push(token);
      }
      done();
    });
  },
});
await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
const smtpUrl = `smtp://127.0.0.1:${sink.server.address().port}`;

// --- helpers -----------------------------------------------------------------------------------
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)[1]) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

function get(url, headers = {}) {
  return new Promise((resolve) => {
    const request = http.get(url, { headers }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
    });
    request.on('error', () => resolve(0));
  });
}

async function startProcess(args, env, pattern) {
  const started = performance.now();
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const address = await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const match = pattern.exec(output);
      if (match) {
        clearInterval(timer);
        resolve(match[1]);
      }
      if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(output));
      }
    }, 1);
  });
  return { child, address, started, output: () => output };
}

async function load(name, target, options) {
  const { path = '', expect: _expect, amountAfterWarmup, ...rest } = options;
  const common = { url: `${target.address}${path}`, connections, ...rest };
  const answered = (result) => result.statusCodeStats?.[String(options.expect ?? 200)]?.count ?? 0;
  const warmup = await autocannon({ ...common, duration: warmupSeconds });
  // A run that consumes something finite (sign-in tokens) may stop when it is used up, before `seconds`.
  const amount = amountAfterWarmup?.(warmup);
  const result = await autocannon(amount !== undefined ? { ...common, amount } : { ...common, duration: seconds });
  const ok = answered(result);
  const row = { name, target: target.name, rps: result.requests.average, mean: result.latency.average, p50: result.latency.p50, p99: result.latency.p99, ok, okWithWarmup: ok + answered(warmup), total: result.requests.total, errors: result.errors + result.timeouts };
  results.push(row);
  const span = amount !== undefined ? `, in ${result.duration.toFixed(1)} s` : '';
  console.log(`  ${name.padEnd(34)} ${target.name.padEnd(10)} ${row.rps.toFixed(0).padStart(7)} req/s  mean ${row.mean.toFixed(1)} ms  p50 ${row.p50} ms  p99 ${row.p99} ms  (${ok}/${row.total} answered ${options.expect ?? 200}${span})`);
  return row;
}

/**
 * Load options that redeem each of `tokens` once (a spent token would be answered early, and
 * cheaply). When fewer are left after the warm-up than the run would use at the warm-up's pace,
 * with a margin, it redeems exactly those left and the line says how long that took.
 */
function redeemingEach(tokens, headers) {
  let next = 0;
  return {
    expect: 303,
    requests: rotating('/magic-login/verify', headers, () => `token=${tokens[next++] ?? 'x'.repeat(43)}`),
    amountAfterWarmup: (warmup) => {
      const left = tokens.length - next - connections;
      return left < warmup.requests.average * seconds * 1.5 ? left : undefined;
    },
  };
}

/** A request body for each request, taken in turn from `next()`. */
function rotating(path, headers, next) {
  return [{ method: 'POST', path, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, setupRequest: (request) => ({ ...request, body: next() }) }];
}

// --- the yardstick ---------------------------------------------------------------------------
console.log(`Portico benchmark: ${connections} connections, ${seconds} s after a ${warmupSeconds} s warm-up, on ${execFileSync('nproc').toString().trim()} cores, Node ${process.version}\n`);

/**
 * A yardstick as a running process, measured path by path. The SQLite yardstick stays up through
 * the whole run and is measured just before each of Portico's paths: this machine's speed drifts
 * within minutes, and a ratio is only as good as the two figures being taken at the same time.
 */
async function startYardstick(args) {
  const process_ = await startProcess(args, {}, /listening on (http:\/\/\S+)/);
  const yard = { name: 'yardstick', address: process_.address };
  // Also when the run fails half-way: a yardstick left serving would skew the next run.
  process.once('exit', () => process_.child.kill('SIGKILL'));
  let email = 0;
  return {
    ok: () => load('raw node:http "ok"', yard, { method: 'GET', path: '/ok' }),
    request: () => load('magic-link request', yard, { requests: rotating('/magic-login', {}, () => `email=client${email++ % clientCount}%40example.com`) }),
    async redeem(pace) {
      // Redemptions run faster than requests (up to twice here): ask for enough to fill the run.
      const count = Math.ceil(pace * (seconds + warmupSeconds) * 2.5);
      const fresh = await (await fetch(`${yard.address}/_bench/tokens?count=${count}`, { method: 'POST' })).json();
      return load('link redemption', yard, redeemingEach(fresh, {}));
    },
    stop: () => process_.child.kill('SIGKILL'),
  };
}

console.log('yardstick: bench/yardstick.mjs, a minimal node:http + better-sqlite3 server doing the same work with no guards, measured before each path');
const yardstick = await startYardstick([new URL('./yardstick.mjs', import.meta.url).pathname, join(folder, 'yardstick.sqlite'), String(clientCount)]);
let pgYard = null;

// --- Portico on each database ------------------------------------------------------------------
async function benchPortico(label, databaseUrl) {
  const env = {
    NODE_ENV: 'production', DATABASE_URL: databaseUrl, SMTP_URL: smtpUrl, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0',
    LIMIT_IP_PER_MINUTE: '1000000000', LIMIT_IP_REDEMPTIONS_PER_5_MINUTES: '1000000000', LIMIT_WORKSPACE_EMAILS_PER_HOUR: '1000000000',
  };
  execFileSync(process.execPath, [cli, 'workspace', 'create', '--name', 'Bench', '--url', workspaceUrl, '--slug', 'bench'], { env: { PATH: process.env.PATH, ...env } });
  const csv = join(folder, 'clients.csv');
  writeFileSync(csv, ['email,name', ...Array.from({ length: clientCount }, (_, index) => `client${index}@example.com,Client ${index}`)].join('\n'));
  const importStarted = performance.now();
  execFileSync(process.execPath, [cli, 'client', 'import', '--workspace', 'bench', csv], { env: { PATH: process.env.PATH, ...env } });
  const importSeconds = (performance.now() - importStarted) / 1000;

  // Passed as Node's own arguments, not NODE_OPTIONS: Node refuses --cpu-prof there.
  const nodeArguments = (process.env.PORTICO_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const portico = await startProcess([...nodeArguments, cli, 'serve'], env, /listening on (http:\/\/\S+) /);
  let healthy = 0;
  while (healthy !== 200) healthy = await get(`${portico.address}/healthz`);
  const startToFirstAnswerMs = performance.now() - portico.started;
  await sleep(1000);
  const idle = rssOf(portico.child.pid);
  const target = { name: label, address: portico.address };
  const host = { host: new URL(workspaceUrl).host };
  console.log(`\nPortico on ${label} (import of ${clientCount} clients: ${(clientCount / importSeconds).toFixed(0)} rows/s; start to first /healthz answer: ${startToFirstAnswerMs.toFixed(0)} ms; idle RSS ${idle.rss.toFixed(0)} MB)`);

  tokens.length = 0;
  const yardRequest = await yardstick.request();
  const mailsBefore = mailCount;
  let email = 0;
  const request = await load('magic-link request', target, {
    requests: rotating('/magic-login', { ...host, origin: workspaceUrl }, () => `email=client${email++ % clientCount}%40example.com`),
  });
  // Outbox delivery: the mails still queued when the load stops, drained with the CPU to itself.
  const drainStarted = performance.now();
  const drainFrom = mailCount;
  // One mail for each request answered 200, warm-up included (every address was distinct). The
  // requests still in flight when autocannon stops are served too, so up to one more per
  // connection and run may arrive; those are not mails sent twice, which the sink counts apart.
  const expected = mailsBefore + request.okWithWarmup;
  let lastCount = -1;
  // Until every mail is in, or nothing arrived for 70 s (longer than the outbox's longest retry
  // delay, 60 s, for mails the busy sink refused during the load).
  while (mailCount < expected && mailCount !== lastCount) {
    lastCount = mailCount;
    for (let waited = 0; waited < 70_000 && mailCount === lastCount && mailCount < expected; waited += 100) await sleep(100);
  }
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  const outboxRate = (mailCount - drainFrom) / drainSeconds;
  const retries = (portico.output().match(/failed \(attempt/g) ?? []).length;
  console.log(`  ${'outbox delivery into the sink'.padEnd(34)} ${label.padEnd(10)} ${outboxRate.toFixed(0).padStart(7)} mails/s (${mailCount - drainFrom} mails drained after the load; ${mailCount - mailsBefore} of ${expected - mailsBefore} delivered, ${mailsSentTwice} twice; ${retries} sends retried)`);
  results.push({ name: 'outbox delivery', target: label, rps: outboxRate });

  const sessionToken = tokens.pop();
  const yardRedeem = await yardstick.redeem(yardRequest.rps);
  const redeem = await load('link redemption', target, redeemingEach([...tokens], { ...host, origin: workspaceUrl }));

  const signIn = await new Promise((resolve) => {
    const body = `token=${sessionToken}`;
    const req = http.request(`${portico.address}/magic-login/verify`, { method: 'POST', headers: { ...host, origin: workspaceUrl, 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length } }, (response) => {
      response.resume();
      resolve(String(response.headers['set-cookie']?.find((line) => line.startsWith('portico_session')) ?? '').split(';')[0]);
    });
    req.end(body);
  });
  const bare = await yardstick.ok();
  const me = await load('GET /api/me', target, { method: 'GET', path: '/api/me', headers: { ...host, cookie: signIn } });
  const peak = rssOf(portico.child.pid);
  console.log(`  RSS idle ${idle.rss.toFixed(0)} MB, peak ${peak.peak.toFixed(0)} MB`);
  portico.child.kill('SIGTERM');
  await new Promise((resolve) => portico.child.once('exit', resolve));
  return { label, yardRequest, request, yardRedeem, redeem, bare, me, outboxRate, idle: idle.rss, peak: peak.peak, startToFirstAnswerMs, importRate: clientCount / importSeconds };
}

const databases = (process.env.BENCH_DATABASES ?? 'sqlite,postgres').split(',');
const runs = databases.includes('sqlite') ? [await benchPortico('SQLite', `sqlite:${join(folder, 'portico.sqlite')}`)] : [];
const adminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const admin = new pg.Client({ connectionString: adminUrl });
const pgReachable = databases.includes('postgres') && (await admin.connect().then(() => true, () => false));
if (pgReachable) {
  const name = `portico_bench_${process.pid}`;
  await admin.query(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const yardName = `portico_bench_yardstick_${process.pid}`;
  await admin.query(`create database ${yardName}`);
  const yardUrl = new URL(adminUrl);
  yardUrl.pathname = `/${yardName}`;
  try {
    console.log('\nyardstick on PostgreSQL (minimal node:http + pg, one statement a step, named prepared statements)');
    const postgresYardstick = await startYardstick([new URL('./yardstick-postgres.mjs', import.meta.url).pathname, yardUrl.toString(), String(clientCount)]);
    const request = await postgresYardstick.request();
    pgYard = { request, redeem: await postgresYardstick.redeem(request.rps) };
    postgresYardstick.stop();
    runs.push(await benchPortico('PostgreSQL', url.toString()));
  } finally {
    await admin.query(`drop database if exists ${yardName} with (force)`);
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
} else {
  console.log(databases.includes('postgres') ? '\n(PostgreSQL not reachable: skipped)' : '');
}

// --- summary ------------------------------------------------------------------------------------
const percent = (part, whole) => `${((part / whole) * 100).toFixed(0)}%`;
console.log('\nSummary (each ratio to the yardstick measured just before, in this run)');
for (const run of runs) {
  console.log(`  ${run.label}: magic-link request ${run.request.rps.toFixed(0)} req/s (${percent(run.request.rps, run.yardRequest.rps)}, p99 ${run.request.p99} ms), redemption ${run.redeem.rps.toFixed(0)} req/s (${percent(run.redeem.rps, run.yardRedeem.rps)}, p99 ${run.redeem.p99} ms), /api/me ${run.me.rps.toFixed(0)} req/s (${percent(run.me.rps, run.bare.rps)} of the bare "ok" server), outbox ${run.outboxRate.toFixed(0)} mails/s, idle RSS ${run.idle.toFixed(0)} MB, peak RSS ${run.peak.toFixed(0)} MB, start to first answer ${run.startToFirstAnswerMs.toFixed(0)} ms, import ${run.importRate.toFixed(0)} rows/s`);
}
if (runs.length === 2) {
  const [sqlite, postgres] = runs;
  console.log(`  PostgreSQL / SQLite: request ${percent(postgres.request.rps, sqlite.request.rps)}, redemption ${percent(postgres.redeem.rps, sqlite.redeem.rps)}, /api/me ${percent(postgres.me.rps, sqlite.me.rps)}`);
}
const postgresRun = runs.find((run) => run.label === 'PostgreSQL');
if (pgYard && postgresRun) {
  console.log(`  PostgreSQL yardstick: request ${pgYard.request.rps.toFixed(0)} req/s (${percent(pgYard.request.rps, postgresRun.yardRequest.rps)} of the SQLite yardstick), redemption ${pgYard.redeem.rps.toFixed(0)} req/s (${percent(pgYard.redeem.rps, postgresRun.yardRedeem.rps)}); Portico on PostgreSQL is ${percent(postgresRun.request.rps, pgYard.request.rps)} and ${percent(postgresRun.redeem.rps, pgYard.redeem.rps)} of it`);
}
yardstick.stop();
await new Promise((resolve) => sink.close(resolve));
rmSync(folder, { recursive: true, force: true });
