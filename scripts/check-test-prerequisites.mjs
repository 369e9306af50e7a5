#!/usr/bin/env node
// `npm test`'s pretest step (issue 13 item 8): the suite needs Debian's Chromium, Caddy and nginx
// (forward authentication, issue 16), promtool (issue 19) and a PostgreSQL at 127.0.0.1:5432. On a fresh machine, bring what is missing when we are root (as .ci/run does);
// otherwise say in one line what is missing and the one command that fixes it, and fail before
// any test runs. Silent when everything is there.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import pg from 'pg';

const defaultChromium = '/usr/bin/chromium';
/** The reverse proxies the forward-authentication tests run, at the paths Debian installs them to. */
const proxies = { caddy: '/usr/bin/caddy', nginx: '/usr/sbin/nginx' };
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

function onPath(command) {
  return (process.env.PATH ?? '').split(delimiter).some((folder) => folder !== '' && isExecutable(join(folder, command)));
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
  // Only Debian and its kin have apt-get: elsewhere, naming it would send the operator nowhere.
  if (!onPath('apt-get')) fail(`Chromium is missing at ${defaultChromium} (the browser tests need it); install Chromium and set CHROMIUM_PATH to its binary.`);
  const command = 'apt-get update && apt-get install -y chromium';
  if (!isRoot) fail(`Chromium is missing at ${defaultChromium} (the browser tests need it); install it with: sudo sh -c '${command}'`);
  say(`Chromium is missing at ${defaultChromium}; installing Debian's chromium (${command}) ...`);
  if (!run('apt-get', ['update', '-qq']) || !run('apt-get', ['install', '-y', '-qq', 'chromium']) || !isExecutable(defaultChromium)) {
    fail(`installing chromium failed (see above); run: ${command}`);
  }
}

/**
 * Whether PostgreSQL answers at url: 'ok'; 'silent' when nothing listens (refused, unreachable,
 * timed out), the one case where starting the local server can help; or the reason it answered
 * but would not let us in (unknown role, wrong password, missing database), which no start fixes.
 */
async function askPostgres(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return { answer: 'ok' };
  } catch (error) {
    // A DatabaseError carries the server's SQLSTATE (28000 no such role or no pg_hba.conf entry,
    // 28P01 wrong password, 3D000 no such database): the server is up and said no.
    if (error instanceof pg.DatabaseError) return { answer: 'refused', reason: `${error.message} (SQLSTATE ${error.code})` };
    // The server asked for a password the URL does not carry (pg fails before sending anything).
    if (/password/i.test(error?.message ?? '')) return { answer: 'refused', reason: `it asks for a password: ${error.message}` };
    return { answer: 'silent' };
  } finally {
    await client.end().catch(() => {});
  }
}

/** The newest PostgreSQL cluster version Debian's packages installed ('9.6' < '10' < '15'), or null. */
function newestInstalledPostgresVersion() {
  if (!existsSync('/etc/postgresql')) return null;
  const versions = readdirSync('/etc/postgresql').filter((name) => /^\d+(\.\d+)?$/.test(name) && existsSync(join('/etc/postgresql', name, 'main')));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ?? null;
}

async function ensurePostgres() {
  const configured = process.env.PORTICO_TEST_POSTGRES_URL;
  const url = configured || defaultPostgresUrl;
  const where = configured ? 'PORTICO_TEST_POSTGRES_URL' : '127.0.0.1:5432';
  const first = await askPostgres(url);
  if (first.answer === 'ok') return;
  if (first.answer === 'refused') {
    const fix = configured
      ? 'fix the user, password or database in PORTICO_TEST_POSTGRES_URL'
      : "allow user postgres without a password from 127.0.0.1 (a 'host all all 127.0.0.1/32 trust' line in pg_hba.conf, then reload), or set PORTICO_TEST_POSTGRES_URL to a URL that signs in";
    fail(`PostgreSQL at ${where} answered but refused the tests: ${first.reason}; ${fix}.`);
  }
  if (configured) fail(`PostgreSQL does not answer at ${where}; start it, or unset PORTICO_TEST_POSTGRES_URL to use the local one.`);
  const version = newestInstalledPostgresVersion();
  if (version === null) {
    const install = onPath('apt-get') ? 'install it (apt-get install -y postgresql, trust auth for 127.0.0.1)' : 'install PostgreSQL with trust auth for 127.0.0.1';
    fail(`PostgreSQL does not answer at ${where} and is not installed; ${install}, or set PORTICO_TEST_POSTGRES_URL.`);
  }
  const command = `pg_ctlcluster --skip-systemctl-redirect ${version} main start`;
  if (!isRoot) fail(`PostgreSQL does not answer at ${where}; start it with: sudo ${command}`);
  say(`PostgreSQL does not answer at ${where}; starting it (${command}) ...`);
  if (!run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'])) fail(`starting PostgreSQL failed (see above); run: ${command}`);
  for (let attempt = 0; attempt < 30; attempt += 1) {
    const now = await askPostgres(url);
    if (now.answer === 'ok') return;
    if (now.answer === 'refused') fail(`PostgreSQL started at ${where} but refused the tests: ${now.reason}; allow user postgres without a password from 127.0.0.1 in pg_hba.conf.`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  fail(`PostgreSQL was started but does not answer at ${where} after 30 s; see its log under /var/log/postgresql.`);
}

/**
 * Caddy and nginx, installed from Debian when missing and we are root. Debian starts a web server
 * it installs where it can: stopped again, as the tests start their own on free loopback ports.
 */
function ensureProxies() {
  const missing = Object.entries(proxies).filter(([, path]) => !isExecutable(path)).map(([name]) => name);
  if (missing.length === 0) return;
  const what = `${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} missing (the forward-authentication tests run ${missing.length === 1 ? 'it' : 'them'})`;
  if (!onPath('apt-get')) fail(`${what}; install ${missing.join(' and ')} so that ${missing.map((name) => proxies[name]).join(' and ')} ${missing.length === 1 ? 'exists' : 'exist'}.`);
  const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (!isRoot) fail(`${what}; install with: sudo sh -c '${command}'`);
  say(`${what}; installing Debian's ${missing.join(' and ')} (${command}) ...`);
  if (!run('apt-get', ['update', '-qq']) || !run('apt-get', ['install', '-y', '-qq', ...missing]) || missing.some((name) => !isExecutable(proxies[name]))) {
    fail(`installing ${missing.join(' and ')} failed (see above); run: ${command}`);
  }
  for (const name of missing) if (isExecutable(`/etc/init.d/${name}`)) run(`/etc/init.d/${name}`, ['stop']);
}

/**
 * promtool (Debian's `prometheus` package), which checks and unit-tests the alert rules of
 * docs/operations.md (issue 19 item 3). Without recommends it is a ~15 MB download; Debian does
 * not start the Prometheus server it brings where systemd is not running, and where it does, it is
 * stopped: the tests need only promtool.
 */
function ensurePromtool() {
  if (onPath('promtool')) return;
  const what = 'promtool is missing (the alert rules of docs/operations.md are checked with it)';
  if (!onPath('apt-get')) fail(`${what}; install Prometheus's promtool so that it is on the PATH.`);
  const command = 'apt-get update && apt-get install -y --no-install-recommends prometheus';
  if (!isRoot) fail(`${what}; install with: sudo sh -c '${command}'`);
  say(`${what}; installing Debian's prometheus (${command}) ...`);
  if (!run('apt-get', ['update', '-qq']) || !run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'prometheus']) || !onPath('promtool')) {
    fail(`installing prometheus failed (see above); run: ${command}`);
  }
  if (isExecutable('/etc/init.d/prometheus')) run('/etc/init.d/prometheus', ['stop']);
}

ensureChromium();
ensureProxies();
ensurePromtool();
await ensurePostgres();
