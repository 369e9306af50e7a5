import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { addApp } from '../src/apps/apps.js';
import { hashSecretToken } from '../src/crypto/tokens.js';
import { inviteClient } from '../src/magic-links/invite-client.js';
import { testDialects } from './helpers/databases.js';
import { issuedSecrets } from './helpers/issued-secrets.js';
import { discoverWorkspace, followOnWorkspace } from './helpers/relying-party.js';
import { linkFromMail, SmtpSink, tokenFromLink, type ReceivedMail } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

/*
 * Issue 13 item 7: a sign-in, reset or invitation token never reaches the disk. A copy of the
 * database (its files, the write-ahead log, PostgreSQL's dead tuples) taken at any moment must hold
 * no working link: the worker mints each token just before handing the mail to SMTP and stores
 * only its hash. Every token the mail server saw, on mails it accepted and on mails it refused, is
 * looked for in the raw bytes.
 */

const strongPassword = 'a long and unusual passphrase';

function tokenOf(mail: ReceivedMail, workspaceUrl: string): string {
  return tokenFromLink(linkFromMail(mail, workspaceUrl));
}

/** The SQLite database file and its write-ahead log, as bytes. */
function sqliteFiles(server: TestPortico): { name: string; bytes: Buffer }[] {
  const path = server.database.url.slice('sqlite:'.length);
  return [path, `${path}-wal`].filter((file) => existsSync(file)).map((file) => ({ name: file, bytes: readFileSync(file) }));
}

/** Every row of every table of the database, as PostgreSQL prints it. */
async function postgresRows(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(`select table_name as name from information_schema.tables where table_schema = 'public'`);
    const rows: string[] = [];
    for (const { name } of tables.rows) rows.push(...(await client.query<{ row: string }>(`select t::text as row from "${name}" t`)).rows.map((row) => row.row));
    return rows.join('\n');
  } finally {
    await client.end();
  }
}

/**
 * The files PostgreSQL keeps the tables in (dead tuples included) and the write-ahead log segments
 * written since `since`, after a checkpoint; empty where this process may not read the data
 * directory (the content scan above still runs).
 */
async function postgresFiles(url: string, since: number): Promise<{ name: string; bytes: Buffer }[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('checkpoint');
    const directory = (await client.query<{ data_directory: string }>('show data_directory')).rows[0]!.data_directory;
    try {
      readdirSync(directory);
    } catch {
      return [];
    }
    const relations = await client.query<{ path: string }>(
      `select pg_relation_filepath(c.oid) as path from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('public', 'pg_toast') and c.relkind in ('r', 't', 'i') and pg_relation_filepath(c.oid) is not null`,
    );
    const files = relations.rows.map((row) => join(directory, row.path)).filter((file) => existsSync(file));
    const wal = join(directory, 'pg_wal');
    const segments = readdirSync(wal)
      .filter((name) => /^[0-9A-F]{24}$/.test(name))
      .map((name) => join(wal, name))
      .filter((file) => statSync(file).mtimeMs >= since - 1000);
    return [...files, ...segments].map((file) => ({ name: file, bytes: readFileSync(file) }));
  } finally {
    await client.end();
  }
}

function holding(files: { name: string; bytes: Buffer }[], secrets: string[]): string[] {
  return files.flatMap((file) => secrets.filter((secret) => file.bytes.includes(secret)).map((secret) => `${secret.slice(0, 6)}… in ${file.name}`));
}

describe.each(testDialects)('tokens at rest, on %s (issue 13 item 7)', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A server with its SMTP sink, the files to scan for secrets (PostgreSQL's: written since it started), and a stop. */
  async function startScannedServer() {
    const startedAt = Date.now();
    const sink = await new SmtpSink().start();
    cleanups.push(() => sink.stop());
    const server = await startTestPortico({ dialect, smtpUrl: sink.url });
    let running = true;
    cleanups.push(async () => {
      if (running) await server.stop();
      await server.database.drop();
    });
    const scanFiles = () => (dialect === 'sqlite' ? sqliteFiles(server) : postgresFiles(server.database.url, startedAt));
    const stopServer = async () => {
      running = false;
      await server.stop();
    };
    return { sink, server, scanFiles, stopServer };
  }

  it('keeps no issued token (pending, sent or used; sign-in, reset or invitation) in the database files, only its hash', async () => {
    const { sink, server, scanFiles, stopServer } = await startScannedServer();
    const workspace = await server.createWorkspace('At Rest');
    for (const email of ['sign-in@example.com', 'reset@example.com']) await server.addClient(workspace, email);

    // A sign-in mail the server refuses once (its link is pending: valid, never delivered), then takes.
    sink.refuseNext(1);
    const browser = server.agent(workspace);
    expect((await browser.post('/magic-login', { email: 'sign-in@example.com' })).status).toBe(200);
    const [refusedSignIn] = await sink.waitForRefused(1);
    const pending = tokenOf(refusedSignIn!, workspace.url);
    // While the mail waits for its retry: nothing in the tables, nothing in the files.
    if (dialect === 'postgres') expect((await postgresRows(server.database.url)).includes(pending), 'the pending token in a table').toBe(false);
    expect(holding(await scanFiles(), [pending])).toEqual([]);

    const [retried] = await sink.waitForMails('sign-in@example.com', 1);
    const used = tokenOf(retried!, workspace.url);
    // Each attempt mints its own link; the retry's works.
    expect(used).not.toBe(pending);
    expect((await browser.post('/magic-login/verify', { token: used })).status).toBe(303);
    expect((await browser.get('/api/me')).status).toBe(200);
    expect((await browser.post('/magic-login', { email: 'sign-in@example.com' })).status).toBe(200);
    const sent = tokenOf((await sink.waitForMails('sign-in@example.com', 2))[1]!, workspace.url);

    // A reset mail refused once, then delivered and used; and a second one left unused.
    sink.refuseNext(1);
    expect((await server.agent(workspace).post('/forgot-password', { email: 'reset@example.com' })).status).toBe(200);
    const resetPending = tokenOf((await sink.waitForRefused(2))[1]!, workspace.url);
    const resetUsed = tokenOf((await sink.waitForMails('reset@example.com', 1))[0]!, workspace.url);
    expect((await server.agent(workspace).post('/reset-password', { token: resetUsed, password: strongPassword })).status).toBe(303);
    expect((await server.agent(workspace).post('/forgot-password', { email: 'reset@example.com' })).status).toBe(200);
    await sink.waitForMails('reset@example.com', 3);
    const resetMails = sink.mailsTo('reset@example.com').filter((mail) => mail.subject.startsWith('Reset'));
    const resetSent = resetMails.map((mail) => tokenOf(mail, workspace.url)).find((token) => token !== resetUsed)!;

    // An invitation, as `portico client invite` queues it.
    await inviteClient(server.portico.context, workspace, { email: 'invited@example.com', name: 'Invited' });
    const invited = tokenOf((await sink.waitForMails('invited@example.com', 1))[0]!, workspace.url);

    const issued = [pending, used, sent, resetPending, resetUsed, resetSent, invited];
    expect(new Set(issued).size).toBe(issued.length);
    // Let the server finish its writes (the "sent" events follow the mail).
    await new Promise((resolve) => setTimeout(resolve, 500));

    if (dialect === 'postgres') {
      const rows = await postgresRows(server.database.url);
      expect(issued.filter((token) => rows.includes(token))).toEqual([]);
      // The scan reads the right data: the hashes are there.
      for (const token of [used, sent, resetSent, invited]) expect(rows.includes(hashSecretToken(token)), 'a hash in the tables').toBe(true);
    }
    const files = await scanFiles();
    expect(holding(files, issued)).toEqual([]);
    if (files.length > 0) expect(files.some((file) => file.bytes.includes(hashSecretToken(sent)))).toBe(true);

    if (dialect === 'sqlite') {
      // And after the server has stopped, with the write-ahead log folded into the file.
      await stopServer();
      expect(holding(sqliteFiles(server), issued)).toEqual([]);
    }
  });
  // Issue 15: what OpenID Connect issues in an app's sign-in is a credential too; oidc-provider's
  // models are stored with their ids hashed (apps/oidc/oidc-storage-adapter.ts).
  it('keeps no OpenID Connect code, access or refresh token, or oidc-provider session cookie in the database files, only its hash', async () => {
    const { sink, server, scanFiles, stopServer } = await startScannedServer();
    const workspace = await server.createWorkspace('App At Rest');
    await server.addClient(workspace, 'app-user@example.com', 'App User');
    const callback = 'http://app.example/callback';
    const { app, clientSecret } = await addApp(server.portico.context.db, server.clock, workspace, { name: 'Portal', redirectUris: [callback] });
    const config = await discoverWorkspace(server.portico.address, workspace.url, app.clientId, clientSecret!);

    // The full sign-in: the app's request, the workspace's magic link, the code back to the app.
    const browser = server.agent(workspace);
    const verifier = oidc.randomPKCECodeVerifier();
    const authorize = oidc.buildAuthorizationUrl(config, { redirect_uri: callback, scope: 'openid email profile offline_access', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', prompt: 'consent' });
    const toSignIn = await followOnWorkspace(browser, authorize.href, workspace.url);
    const next = new URL(toSignIn.lastPath, workspace.url).searchParams.get('next')!;
    expect(next).toMatch(/^\/oidc\/interaction\//);
    expect((await browser.post('/magic-login', { email: 'app-user@example.com', next })).status).toBe(200);
    const link = tokenOf((await sink.waitForMails('app-user@example.com', 1))[0]!, workspace.url);
    // The sign-in answers with a page that moves on to the app's sign-in step (http/continue-after-sign-in.ts).
    expect((await browser.post('/magic-login/verify', { token: link })).status).toBe(200);
    const back = await followOnWorkspace(browser, next, workspace.url);
    expect(back.leftTo?.origin).toBe('http://app.example');
    const code = back.leftTo!.searchParams.get('code')!;
    const tokens = await oidc.authorizationCodeGrant(config, back.leftTo!, { pkceCodeVerifier: verifier, idTokenExpected: true });
    expect((await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).email).toBe('app-user@example.com');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const oidcSession = browser.cookies.get('portico_oidc_session')!;

    const issued = { code, accessToken: tokens.access_token, refreshToken: tokens.refresh_token!, refreshedAccessToken: refreshed.access_token, oidcSession };
    for (const [what, secret] of Object.entries(issued)) {
      expect(secret, what).toMatch(/^[A-Za-z0-9_-]{21,}$/);
      // test/helpers remembered each, so every test server's logs are checked for them.
      expect(issuedSecrets.has(secret), `${what} remembered as an issued secret`).toBe(true);
    }
    const secrets = Object.values(issued);

    if (dialect === 'postgres') {
      const rows = await postgresRows(server.database.url);
      expect(secrets.filter((secret) => rows.includes(secret))).toEqual([]);
      // The scan reads the right data: the hashes are there.
      for (const [what, secret] of Object.entries(issued)) expect(rows.includes(hashSecretToken(secret)), `the hash of the ${what} in the tables`).toBe(true);
    }
    const files = await scanFiles();
    expect(holding(files, secrets)).toEqual([]);
    if (files.length > 0) for (const [what, secret] of Object.entries(issued)) expect(files.some((file) => file.bytes.includes(hashSecretToken(secret))), `the hash of the ${what} in the files`).toBe(true);

    if (dialect === 'sqlite') {
      await stopServer();
      expect(holding(sqliteFiles(server), secrets)).toEqual([]);
    }
  });
});
