#!/usr/bin/env node
// Do known and unknown emails take the same time? Sends 500 interleaved requests of each kind to
// /magic-login, /forgot-password, /login and the code form (/magic-login/code, a wrong code typed
// in a browser that asked for a known or an unknown address) on a real Portico (SQLite, real SMTP
// sink on loopback)
// and prints both latency distributions and the two-sample Kolmogorov–Smirnov statistic D.
// Usage: npm run build && node bench/enumeration-timing.mjs [requestsPerKind]
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../dist/config.js';
import { startPortico } from '../dist/main.js';
import { addClient } from '../dist/clients/clients.js';
import { createWorkspace } from '../dist/workspaces/workspaces.js';
import { hashPassword } from '../dist/crypto/password-hashing.js';
import { systemClock } from '../dist/shared/clock.js';

const perKind = Number(process.argv[2] ?? 500);
const folder = mkdtempSync(join(tmpdir(), 'portico-bench-'));
const sink = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], logger: false, onData: (stream, _session, done) => stream.on('data', () => {}).on('end', () => { mailsReceived += 1; done(); }) });
await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
const parsed = loadConfig({
  PORT: '0', HOST: '127.0.0.1', DATABASE_URL: `sqlite:${join(folder, 'bench.sqlite')}`, LOG_LEVEL: 'silent',
  SMTP_URL: `smtp://127.0.0.1:${sink.server.address().port}`,
  // Limits would answer early (the same way for both kinds); lift them so the full paths are timed.
  LIMIT_IP_PER_MINUTE: '1000000000', LIMIT_WORKSPACE_EMAILS_PER_HOUR: '1000000000', LIMIT_EMAIL_COOLDOWN: '0', LIMIT_EMAIL_PER_HOUR: '1000000', LIMIT_IP_REDEMPTIONS_PER_5_MINUTES: '1000000000',
  LIMIT_CODE_GUESSES_PER_IP_PER_HOUR: '1000000000', LIMIT_CODE_GUESSES_PER_CLIENT_PER_HOUR: '1000000',
});
if (!parsed.ok) throw new Error(parsed.problems.join('; '));
const portico = await startPortico(parsed.config, { printDevMail: () => {} });
const port = new URL(portico.address).port;
const workspace = await createWorkspace(portico.context.db, systemClock, { name: 'Timing', url: `http://timing.test:${port}` });
const passwordHash = await hashPassword('an honest passphrase for timing');
for (let index = 0; index < perKind; index += 1) {
  const client = await addClient(portico.context.db, systemClock, workspace, { email: `known${index}@example.com` });
  await portico.context.db.updateTable('clients').set({ password_hash: passwordHash }).where('id', '=', client.id).execute();
}

let mailsReceived = 0;
function post(path, form, cookie) {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const request = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { host: `timing.test:${port}`, origin: `http://timing.test:${port}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...(cookie ? { cookie } : {}) } }, (response) => {
      response.resume();
      const setCookie = (response.headers['set-cookie'] ?? []).map((line) => line.split(';')[0]).join('; ');
      response.on('end', () => resolve({ status: response.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6, cookie: setCookie }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

function ksStatistic(a, b) {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0, j = 0, d = 0;
  while (i < x.length && j < y.length) {
    const value = Math.min(x[i], y[j]);
    while (i < x.length && x[i] <= value) i += 1;
    while (j < y.length && y[j] <= value) j += 1;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

const quantile = (values, q) => [...values].sort((p, r) => p - r)[Math.min(values.length - 1, Math.floor(q * values.length))];
const describe = (values) => ['p10', 'p50', 'p90', 'p99'].map((name, k) => `${name} ${quantile(values, [0.1, 0.5, 0.9, 0.99][k]).toFixed(2)} ms`).join('  ');

const doors = [
  { path: '/magic-login', form: (email) => ({ email }) },
  { path: '/forgot-password', form: (email) => ({ email }) },
  { path: '/login', form: (email) => ({ email, password: 'a wrong passphrase for timing' }) },
];
// 95% two-sample critical value for n = m: D > 1.36 * sqrt(2 / n) means "distinguishable".
const critical = 1.36 * Math.sqrt(2 / perKind);
console.log(`Portico enumeration timing: ${perKind} known and ${perKind} unknown emails per door, interleaved (SQLite, loopback)`);
for (const door of doors) {
  for (let warm = 0; warm < 20; warm += 1) await post(door.path, door.form(`warm${warm}@example.com`));
  const known = [];
  const unknown = [];
  const statuses = new Set();
  for (let index = 0; index < perKind; index += 1) {
    const a = await post(door.path, door.form(`known${index}@example.com`));
    const b = await post(door.path, door.form(`unknown${index}@example.com`));
    known.push(a.ms);
    unknown.push(b.ms);
    statuses.add(`${a.status}/${b.status}`);
  }
  const d = ksStatistic(known, unknown);
  console.log(`\n${door.path}  (status known/unknown: ${[...statuses].join(', ')})`);
  console.log(`  known    ${describe(known)}`);
  console.log(`  unknown  ${describe(unknown)}`);
  console.log(`  Kolmogorov–Smirnov D = ${d.toFixed(3)} (95% critical value ${critical.toFixed(3)}: ${d > critical ? 'DISTINGUISHABLE' : 'not distinguishable'})`);
}
// The code form: each request comes from a browser (its binding cookie) that asked for a known or an
// unknown address, once that known address's mail (and so its pending code) is out; the code is wrong.
{
  const known = [];
  const unknown = [];
  const statuses = new Set();
  const knownBrowsers = [];
  const unknownBrowsers = [];
  const sentBefore = mailsReceived;
  for (let index = 0; index < perKind; index += 1) {
    knownBrowsers.push((await post('/magic-login', { email: `known${index}@example.com` })).cookie);
    unknownBrowsers.push((await post('/magic-login', { email: `unknown${index}@example.com` })).cookie);
  }
  while (mailsReceived < sentBefore + perKind) await new Promise((resolve) => setTimeout(resolve, 50));
  for (let warm = 0; warm < 20; warm += 1) await post('/magic-login/code', { code: '00000 00000' }, unknownBrowsers[warm % perKind]);
  for (let index = 0; index < perKind; index += 1) {
    const a = await post('/magic-login/code', { code: '00000 00000' }, knownBrowsers[index]);
    const b = await post('/magic-login/code', { code: '00000 00000' }, unknownBrowsers[index]);
    known.push(a.ms);
    unknown.push(b.ms);
    statuses.add(`${a.status}/${b.status}`);
  }
  const d = ksStatistic(known, unknown);
  console.log(`\n/magic-login/code  (status known/unknown: ${[...statuses].join(', ')})`);
  console.log(`  known    ${describe(known)}`);
  console.log(`  unknown  ${describe(unknown)}`);
  console.log(`  Kolmogorov–Smirnov D = ${d.toFixed(3)} (95% critical value ${critical.toFixed(3)}: ${d > critical ? 'DISTINGUISHABLE' : 'not distinguishable'})`);
}
await portico.stop();
await new Promise((resolve) => sink.close(resolve));
rmSync(folder, { recursive: true, force: true });
