import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addClient } from '../src/clients/clients.js';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { importClients } from '../src/clients/import-clients.js';
import { systemClock } from '../src/shared/clock.js';
import { openDatabase, type DatabaseHandle } from '../src/storage/database.js';
import { workspaceDirectoryTtlMs } from '../src/workspaces/workspace-directory.js';
import { createWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { createTestDatabase, type TestDatabase } from './helpers/databases.js';
import { HttpAgent } from './helpers/http-agent.js';
import { generousLimits, runPorticoCommand, startPorticoProcess, type PorticoProcess } from './helpers/portico-process.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { createThrowawayPostgres } from './helpers/throwaway-postgres.js';
import { waitFor } from './helpers/wait-for.js';

// Several `portico serve` processes behind one address share one PostgreSQL database (issue 4).
// The address clients use is the workspace URL; the tests send it as `Host` to either instance.


async function seedWorkspace(database: DatabaseHandle, emails: string[]): Promise<Workspace> {
  const workspace = await createWorkspace(database.db, systemClock, { name: 'Scale', url: 'http://scale.test:8080' });
  for (const email of emails) await addClient(database.db, systemClock, workspace, { email });
  return workspace;
}

describe('two instances on one PostgreSQL database', () => {
  let sink: SmtpSink;
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let instances: PorticoProcess[];
  let workspace: Workspace;
  const agentOn = (instance: PorticoProcess) => new HttpAgent(instance.address, workspace.url);
  const enders = ['logout@example.com', 'change@example.com', 'reset@example.com', 'cut@example.com', 'others@example.com'];
  const password = 'velvet otter climbs quiet harbor';

  /** A browser signed in by password on `instance`, and the same browser (its cookie) on `other`, which has just read the session. */
  async function signedInOn(instance: PorticoProcess, other: PorticoProcess, email: string) {
    const here = agentOn(instance);
    expect((await here.post('/login', { email, password })).status).toBe(303);
    const there = agentOn(other);
    for (const [name, value] of here.cookies) there.cookies.set(name, value);
    expect((await there.get('/api/me')).status).toBe(200);
    return { here, there };
  }

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    database = await createTestDatabase('postgres');
    // Both start, and so migrate, at once: the advisory lock keeps them from colliding.
    instances = await Promise.all([1, 2].map(() => startPorticoProcess({ DATABASE_URL: database.url, SMTP_URL: sink.url, ...generousLimits })));
    handle = await openDatabase(database.url);
    workspace = await seedWorkspace(handle, [...Array.from({ length: 200 }, (_, index) => `bulk${index}@example.com`), 'roam@example.com', 'race@example.com', ...enders]);
    const passwordHash = await hashPassword(password);
    await handle.db.updateTable('clients').set({ password_hash: passwordHash }).where('email', 'in', enders).execute();
  });
  afterAll(async () => {
    await Promise.all((instances ?? []).map((instance) => instance.stop()));
    await handle?.close();
    await database?.drop();
    await sink?.stop();
  });

  it('redeems on B a link asked for on A, and shares the session', async () => {
    const [a, b] = instances as [PorticoProcess, PorticoProcess];
    expect((await agentOn(a).post('/magic-login', { email: 'roam@example.com' })).status).toBe(200);
    const [mail] = await sink.waitForMails('roam@example.com');
    const browserOnB = agentOn(b);
    expect((await browserOnB.post('/magic-login/verify', { token: tokenFromLink(linkFromMail(mail!, workspace.url)) })).status).toBe(303);
    const browserOnA = agentOn(a);
    for (const [name, value] of browserOnB.cookies) browserOnA.cookies.set(name, value);
    expect((await browserOnA.get('/api/me')).status).toBe(200);

    // Signing out everywhere on B reaches A at once (issue 13 item 1: it used to take a second).
    expect((await browserOnB.post('/account/sessions/end-all', {})).status).toBe(303);
    expect((await browserOnB.get('/api/me')).status).toBe(401);
    expect((await browserOnA.get('/api/me')).status).toBe(401);
  });

  // Issue 13 item 1: each instance trusted a session it had read for a second.
  it('issue 13 item 1: refuses on B, at the very next request, a session signed out on A', async () => {
    const [a, b] = instances as [PorticoProcess, PorticoProcess];
    const { here, there } = await signedInOn(a, b, 'logout@example.com');
    expect((await here.post('/logout', {})).status).toBe(303);
    expect((await there.get('/api/me')).status).toBe(401);
  });

  it('issue 13 item 1: refuses on B, at the very next request, the other sessions of a password changed on A', async () => {
    const [a, b] = instances as [PorticoProcess, PorticoProcess];
    const changer = await signedInOn(a, b, 'change@example.com');
    const other = await signedInOn(a, b, 'change@example.com');
    const changed = await changer.here.post('/account/password', { current_password: password, new_password: 'marble kettle whispers over dunes' });
    expect(changed.status).toBe(303);
    expect((await other.there.get('/api/me')).status).toBe(401);
    expect((await changer.there.get('/api/me')).status).toBe(200);
  });

  it('issue 13 item 1: refuses on B, at the very next request, every session of a password reset on A', async () => {
    const [a, b] = instances as [PorticoProcess, PorticoProcess];
    const { there } = await signedInOn(a, b, 'reset@example.com');
    expect((await agentOn(a).post('/forgot-password', { email: 'reset@example.com' })).status).toBe(200);
    const [mail] = await sink.waitForMails('reset@example.com');
    const token = tokenFromLink(linkFromMail(mail!, workspace.url));
    const reset = await agentOn(a).post('/reset-password', { token, password: 'marble kettle whispers over dunes' });
    expect(reset.status).toBe(303);
    expect((await there.get('/api/me')).status).toBe(401);
  });

  it('issue 13 item 1: refuses on both, at the very next request, a client disabled by `portico client disable`', async () => {
    const [a, b] = instances as [PorticoProcess, PorticoProcess];
    const { here, there } = await signedInOn(a, b, 'cut@example.com');
    expect((await here.get('/api/me')).status).toBe(200);
    const disabled = await runPorticoCommand(['client', 'disable', '--workspace', workspace.slug, '--email', 'cut@example.com'], { DATABASE_URL: database.url });
    expect(disabled.code).toBe(0);
    expect((await here.get('/api/me')).status).toBe(401);
    expect((await there.get('/api/me')).status).toBe(401);
  });

  // Issue 17 item 2: "sign out other sessions" on one instance, and the ended browser told why on the other.
  it('refuses on B, at the very next request, the other sessions signed out on A, keeps the asking one, and tells B\'s browser why', async () => {
    const [a, b] = instances as [PorticoProcess, PorticoProcess];
    const asking = await signedInOn(a, b, 'others@example.com');
    const other = await signedInOn(a, b, 'others@example.com');
    expect((await asking.here.post('/account/sessions/end-others', {})).status).toBe(303);
    expect((await other.there.get('/api/me')).status).toBe(401);
    expect((await asking.there.get('/api/me')).status).toBe(200);
    const told = (await other.there.get('/login')).body;
    expect(told).toContain('You were signed out because “Sign out other sessions” was used in another browser.');
    // Told once, on whichever instance it was told.
    expect((await other.here.get('/login')).body).not.toContain('You were signed out because');
  });

  it('lets exactly one of 100 concurrent redemptions across both sign in', async () => {
    await agentOn(instances[0]!).post('/magic-login', { email: 'race@example.com' });
    const [mail] = await sink.waitForMails('race@example.com');
    const token = tokenFromLink(linkFromMail(mail!, workspace.url));
    const responses = await Promise.all(Array.from({ length: 100 }, (_, index) => agentOn(instances[index % 2]!).post('/magic-login/verify', { token })));
    expect(responses.filter((response) => response.status === 303)).toHaveLength(1);
    expect(responses.filter((response) => response.status === 410)).toHaveLength(99);
    const sessions = await handle.db.selectFrom('sessions').innerJoin('clients', 'clients.id', 'sessions.client_id').where('clients.email', '=', 'race@example.com').select('id_hash').execute();
    expect(sessions).toHaveLength(1);
  });

  it('delivers each of 200 link requests spread over both exactly once', async () => {
    const emails = Array.from({ length: 200 }, (_, index) => `bulk${index}@example.com`);
    const statuses = await Promise.all(emails.map((email, index) => agentOn(instances[index % 2]!).post('/magic-login', { email }).then((response) => response.status)));
    expect(statuses.every((status) => status === 200)).toBe(true);
    await waitFor(async () => emails.every((email) => sink.mailsTo(email).length >= 1), 30_000, 'all 200 mails');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const duplicates = emails.filter((email) => sink.mailsTo(email).length !== 1);
    expect(duplicates).toEqual([]);
    expect(await handle.db.selectFrom('outbox').select('id').execute()).toEqual([]);
  });
});

describe('an instance killed while it holds claimed mail', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('loses nothing: another instance delivers it once the lease runs out', async () => {
    const sink = await new SmtpSink().start();
    cleanups.push(() => sink.stop());
    // An SMTP server that accepts connections and never answers: the mail stays in flight.
    const sockets: net.Socket[] = [];
    const blackHole = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => blackHole.close(resolve));
    });
    const database = await createTestDatabase('postgres');
    cleanups.push(() => database.drop());
    const handle = await openDatabase(database.url);
    cleanups.push(() => handle.close());
    const workspace = await seedWorkspace(handle, ['survivor@example.com']);

    const doomed = await startPorticoProcess({ DATABASE_URL: database.url, SMTP_URL: `smtp://127.0.0.1:${(blackHole.address() as net.AddressInfo).port}`, OUTBOX_LEASE: '3s', ...generousLimits });
    cleanups.push(() => doomed.kill());
    expect((await new HttpAgent(doomed.address, workspace.url).post('/magic-login', { email: 'survivor@example.com' })).status).toBe(200);
    await waitFor(async () => {
      const row = await handle.db.selectFrom('outbox').select(['lease_until', 'counted_at']).executeTakeFirst();
      // Counted: the worker found the client and went on to mint the link and send.
      return row?.counted_at != null && row.lease_until !== null;
    }, 10_000, 'the doomed instance to claim the mail');
    await doomed.kill();

    const heir = await startPorticoProcess({ DATABASE_URL: database.url, SMTP_URL: sink.url, OUTBOX_LEASE: '3s', ...generousLimits });
    cleanups.push(() => heir.stop());
    const [mail] = await sink.waitForMails('survivor@example.com', 1, 15_000);
    expect(linkFromMail(mail!, workspace.url)).toContain('/magic-login/verify?token=');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(sink.mailsTo('survivor@example.com')).toHaveLength(1);
  });
});

describe('PostgreSQL stopped and started again under load', () => {
  it('answers 503 while it is away, no 500 ever, recovers by itself, and loses no mail', async () => {
    const postgres = await createThrowawayPostgres();
    const sink = await new SmtpSink().start();
    const instances: PorticoProcess[] = [];
    let handle: DatabaseHandle | null = null;
    try {
      instances.push(...(await Promise.all([1, 2].map(() => startPorticoProcess({ DATABASE_URL: postgres.url, SMTP_URL: sink.url, ...generousLimits })))));
      handle = await openDatabase(postgres.url);
      const emails = Array.from({ length: 2000 }, (_, index) => `load${index}@example.com`);
      const workspace = await seedWorkspace(handle, []);
      await importClients(handle.db, systemClock, workspace, ['email,name', ...emails].join('\n'));
      await handle.close();
      handle = null;

      const answered: { email: string; status: number; phase: 'before' | 'outage' | 'after' }[] = [];
      let phase: 'before' | 'outage' | 'after' = 'before';
      let next = 0;
      let loadRunning = true;
      const load = async (lane: number) => {
        while (loadRunning && next < emails.length) {
          const email = emails[next++]!;
          const agent = new HttpAgent(instances[lane % 2]!.address, workspace.url);
          const requestPhase = phase;
          const response = await agent.post('/magic-login', { email }).catch(() => ({ status: 0 }));
          answered.push({ email, status: response.status, phase: requestPhase });
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      const lanes = Promise.all([0, 1, 2, 3].map(load));

      await new Promise((resolve) => setTimeout(resolve, 1000));
      phase = 'outage';
      postgres.stop();
      const health = await new HttpAgent(instances[0]!.address, workspace.url).get('/healthz');
      expect(health.status).toBe(503);
      // Pages know their workspace from the directory for up to a second; past that, they too answer 503.
      await new Promise((resolve) => setTimeout(resolve, workspaceDirectoryTtlMs));
      const page = await new HttpAgent(instances[1]!.address, workspace.url).get('/magic-login');
      expect(page.status).toBe(503);
      expect(page.body).toContain('right back');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      postgres.start();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      phase = 'after';
      await new Promise((resolve) => setTimeout(resolve, 2000));
      loadRunning = false;
      await lanes;

      expect(answered.filter((answer) => answer.status === 500 || answer.status === 0)).toEqual([]);
      expect(answered.filter((answer) => answer.phase === 'outage' && answer.status === 503).length).toBeGreaterThan(0);
      const after = answered.filter((answer) => answer.phase === 'after');
      expect(after.length).toBeGreaterThan(10);
      expect(after.filter((answer) => answer.status !== 200)).toEqual([]);
      expect((await new HttpAgent(instances[0]!.address, workspace.url).get('/healthz')).status).toBe(200);

      const accepted = answered.filter((answer) => answer.status === 200).map((answer) => answer.email);
      await waitFor(async () => accepted.every((email) => sink.mailsTo(email).length >= 1), 30_000, 'every accepted request to be mailed');
    } finally {
      await Promise.all(instances.map((instance) => instance.stop()));
      await handle?.close();
      await sink.stop();
      postgres.destroy();
    }
  }, 90_000);
});
