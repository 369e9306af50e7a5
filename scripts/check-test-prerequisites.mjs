#!/usr/bin/env node
// `npm test`'s pretest step (issue 13 item 8): the suite needs Debian's Chromium and a PostgreSQL
// at 127.0.0.1:5432. On a fresh machine, bring what is missing when we are root (as .ci/run does);
// otherwise say in one line what is missing and the one command that fixes it, and fail before
// any test runs. Silent when everything is there.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import pg from 'pg';

const defaultChromium = '/usr/bin/chromium';
const defaultPostgresUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
const isRoot = process.getuid?.() === 0;

function say(line) {
  process.stderr.write(`pretest: ${line}\n`);
}

function fail(line) {
  say(line);
  process.exit(1);
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command quietly; on failure its output is shown, since that is what the operator needs. */
function run(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.status === 0) return true;
  process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `${result.error.message}\n` : ''}`);
  return false;
}

function ensureChromium() {
  const configured = process.env.CHROMIUM_PATH;
  const path = configured || defaultChromium;
  if (isExecutable(path)) return;
  if (configured) fail(`Chromium is not at CHROMIUM_PATH=${configured}; point CHROMIUM_PATH at a Chromium binary, or unset it to use ${defaultChromium}.`);
  const command = 'apt-get update && apt-get install -y chromium';
  if (!isRoot) fail(`Chromium is missing at ${defaultChromium} (the browser tests need it); install it with: sudo sh -c '${command}'`);
  say(`Chromium is missing at ${defaultChromium}; installing Debian's chromium (${command}) ...`);
  if (!run('apt-get', ['update', '-qq']) || !run('apt-get', ['install', '-y', '-qq', 'chromium']) || !isExecutable(defaultChromium)) {
    fail(`installing chromium failed (see above); run: ${command}`);
  }
}

async function postgresAnswers(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensurePostgres() {
  const configured = process.env.PORTICO_TEST_POSTGRES_URL;
  const url = configured || defaultPostgresUrl;
  if (await postgresAnswers(url)) return;
  const where = configured ? 'PORTICO_TEST_POSTGRES_URL' : '127.0.0.1:5432';
  if (configured) fail(`PostgreSQL does not answer at ${where}; start it, or unset PORTICO_TEST_POSTGRES_URL to use the local one.`);
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
  if (versions.length === 0) {
    fail(`PostgreSQL does not answer at ${where} and is not installed; install it (apt-get install -y postgresql, trust auth for 127.0.0.1) or set PORTICO_TEST_POSTGRES_URL.`);
  }
  const command = `pg_ctlcluster --skip-systemctl-redirect ${versions[0]} main start`;
  if (!isRoot) fail(`PostgreSQL does not answer at ${where}; start it with: sudo ${command}`);
  say(`PostgreSQL does not answer at ${where}; starting it (${command}) ...`);
  if (!run('pg_ctlcluster', ['--skip-systemctl-redirect', versions[0], 'main', 'start'])) fail(`starting PostgreSQL failed (see above); run: ${command}`);
  for (let attempt = 0; attempt < 30; attempt += 1) {
    if (await postgresAnswers(url)) return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  fail(`PostgreSQL was started but does not answer at ${where} after 30 s; see its log under /var/log/postgresql.`);
}

ensureChromium();
await ensurePostgres();
