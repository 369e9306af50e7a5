import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addClient } from '../src/clients/clients.js';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { listAuditEvents } from '../src/events/audit-events.js';
import { systemClock } from '../src/shared/clock.js';
import { openDatabase } from '../src/storage/database.js';
import { createWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { createTestDatabase, testDialects } from './helpers/databases.js';
import { HttpAgent, type HttpResponse } from './helpers/http-agent.js';
import { startPorticoProcess, type PorticoProcess } from './helpers/portico-process.js';
import { TestClock } from './helpers/test-clock.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

const rightPassword = 'velvet otter climbs quiet harbor';
const newPassword = 'marble kettle whispers over dunes';

const statusCounts = (responses: HttpResponse[]) => {
  const counts: Record<number, number> = {};
  for (const response of responses) counts[response.status] = (counts[response.status] ?? 0) + 1;
  return counts;
};

describe.each(testDialects)('the per-account password throttle under attack, on %s', (dialect) => {
  let server: TestPortico;
  let workspace: Workspace;
  let counter = 0;

  beforeAll(async () => {
    // The per-IP limit is generous here: each test is about the per-account throttle, alone.
    // Frozen: the waits below are checked to the second, however long a loaded machine takes to answer.
    server = await startTestPortico({ dialect, clock: new TestClock({ frozen: true }) });
    workspace = await server.createWorkspace('Throttled');
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
  });

  async function clientWithPassword() {
    const email = `attacked${(counter += 1)}@example.com`;
    const client = await server.addClient(workspace, email);
    await server.portico.context.db.updateTable('clients').set({ password_hash: await hashPassword(rightPassword) }).where('id', '=', client.id).execute();
    return email;
  }

  async function wrongPasswordChecks(email: string) {
    const events = await listAuditEvents(server.portico.context.db, workspace.id, 1000);
    return events.filter((event) => event.email === email && event.type === 'login.failed' && event.reason === 'wrong_password').length;
  }

  it('issue 13 item 3: of 40 concurrent wrong passwords for one account, exactly 5 are checked; the right one must then wait', async () => {
    const email = await clientWithPassword();
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, index) => server.agent(workspace).post('/login', { email, password: `wrong guess number ${index}` })),
    );
    expect(statusCounts(responses)).toEqual({ 401: 5, 429: 35 });
    expect(await wrongPasswordChecks(email)).toBe(5);
    for (const refused of responses.filter((response) => response.status === 429)) expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

    // The throttle delays; it never locks the owner out for good, and never lets the right password skip the wait.
    expect((await server.agent(workspace).post('/login', { email, password: rightPassword })).status).toBe(429);
    server.clock.advance(29_000);
    expect((await server.agent(workspace).post('/login', { email, password: rightPassword })).status).toBe(429);
    server.clock.advance(2_000);
    expect((await server.agent(workspace).post('/login', { email, password: rightPassword })).status).toBe(303);
    // A success forgets the failures: the next wrong password is checked again.
    expect((await server.agent(workspace).post('/login', { email, password: 'one more wrong guess' })).status).toBe(401);
  });

  it('issue 13 item 3: the delay grows after each further failure (30 s, then 1 min), also under concurrency', async () => {
    const email = await clientWithPassword();
    const burst = () => Promise.all(Array.from({ length: 10 }, () => server.agent(workspace).post('/login', { email, password: 'not it at all' })));
    expect(statusCounts(await burst())).toEqual({ 401: 5, 429: 5 });
    server.clock.advance(30_000);
    // The wait is over: exactly one more attempt is checked, and the next wait is a minute.
    expect(statusCounts(await burst())).toEqual({ 401: 1, 429: 9 });
    server.clock.advance(30_000);
    const stillWaiting = await server.agent(workspace).post('/login', { email, password: rightPassword });
    expect(stillWaiting.status).toBe(429);
    expect(Number(stillWaiting.headers['retry-after'])).toBe(30);
    server.clock.advance(30_000);
    expect((await server.agent(workspace).post('/login', { email, password: rightPassword })).status).toBe(303);
  });

  it('forgets failures after a quiet hour, however far the delay had grown (kept by the atomic upsert)', async () => {
    const email = await clientWithPassword();
    const wrong = () => server.agent(workspace).post('/login', { email, password: 'still not it' }).then((response) => response.status);
    for (let round = 0; round < 4; round += 1) {
      expect(await wrong()).toBe(401);
      if (round === 0) for (let more = 0; more < 4; more += 1) expect(await wrong()).toBe(401);
      expect(await wrong()).toBe(429);
      server.clock.advance(16 * 60_000);
    }
    // Eight failures, each wait longer than the last; an hour after the last one the account starts afresh.
    server.clock.advance(3_600_000);
    const afresh = await Promise.all(Array.from({ length: 7 }, wrong));
    expect({ checked: afresh.filter((status) => status === 401).length, refused: afresh.filter((status) => status === 429).length }).toEqual({ checked: 5, refused: 2 });
  });

  it('issue 13 item 9: 15 wrong current passwords on /account/password get 429 with Retry-After after the allowed 5', async () => {
    const email = await clientWithPassword();
    const browser = server.agent(workspace);
    expect((await browser.post('/login', { email, password: rightPassword })).status).toBe(303);
    const statuses: number[] = [];
    let lastRefusal: HttpResponse | undefined;
    for (let attempt = 0; attempt < 15; attempt += 1) {
      const response = await browser.post('/account/password', { current_password: `my old password ${attempt}?`, new_password: newPassword });
      statuses.push(response.status);
      if (response.status === 429) lastRefusal = response;
    }
    expect(statuses).toEqual([...Array<number>(5).fill(400), ...Array<number>(10).fill(429)]);
    expect(Number(lastRefusal!.headers['retry-after'])).toBeGreaterThan(0);
    expect(lastRefusal!.body).toContain('Too many wrong passwords');

    // The same account's throttle as /login: the guesses made here hold the sign-in door too.
    expect((await server.agent(workspace).post('/login', { email, password: rightPassword })).status).toBe(429);
    // Even the right current password waits, then works.
    expect((await browser.post('/account/password', { current_password: rightPassword, new_password: newPassword })).status).toBe(429);
    server.clock.advance(31_000);
    const changed = await browser.post('/account/password', { current_password: rightPassword, new_password: newPassword });
    expect(changed.status).toBe(303);
    expect((await server.agent(workspace).post('/login', { email, password: newPassword })).status).toBe(303);
  });

  it('issue 13 item 9: 40 concurrent wrong current passwords on /account/password get exactly 5 checks', async () => {
    const email = await clientWithPassword();
    const browser = server.agent(workspace);
    expect((await browser.post('/login', { email, password: rightPassword })).status).toBe(303);
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, index) => browser.post('/account/password', { current_password: `guess ${index}`, new_password: newPassword })),
    );
    expect(statusCounts(responses)).toEqual({ 400: 5, 429: 35 });
  });
});

describe.each(testDialects)('the per-IP limit on /account/password, on %s', (dialect) => {
  let server: TestPortico | undefined;
  afterEach(async () => {
    await server?.stop({ dropDatabase: true });
    server = undefined;
  });

  it('issue 13 item 9: counts POSTs to /account/password per IP like every door: 429 with Retry-After', async () => {
    server = await startTestPortico({ dialect, env: { LIMIT_IP_PER_MINUTE: '3' }, clock: new TestClock({ atTopOfHour: true }) });
    const workspace = await server.createWorkspace('Per IP');
    const client = await server.addClient(workspace, 'ip@example.com');
    await server.portico.context.db.updateTable('clients').set({ password_hash: await hashPassword(rightPassword) }).where('id', '=', client.id).execute();
    const browser = server.agent(workspace);
    expect((await browser.post('/login', { email: 'ip@example.com', password: rightPassword })).status).toBe(303);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) statuses.push((await browser.post('/account/password', { current_password: `guess ${attempt}`, new_password: newPassword })).status);
    // /login took one of this IP's POSTs on its own door; /account/password is a door of its own.
    expect(statuses).toEqual([400, 400, 400]);
    const limited = await browser.post('/account/password', { current_password: rightPassword, new_password: newPassword });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('the per-account password throttle across two instances on one PostgreSQL database', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('issue 13 item 3: of 40 concurrent wrong passwords spread over both, exactly 5 are checked', async () => {
    const database = await createTestDatabase('postgres');
    cleanups.push(() => database.drop());
    const instances: PorticoProcess[] = await Promise.all([1, 2].map(() => startPorticoProcess({ DATABASE_URL: database.url, LIMIT_IP_PER_MINUTE: '1000000' })));
    cleanups.push(async () => void (await Promise.all(instances.map((instance) => instance.stop()))));
    const handle = await openDatabase(database.url);
    cleanups.push(() => handle.close());
    const workspace = await createWorkspace(handle.db, systemClock, { name: 'Two doors', url: 'http://two-doors.test:8080' });
    await addClient(handle.db, systemClock, workspace, { email: 'target@example.com', passwordHash: await hashPassword(rightPassword) });

    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        new HttpAgent(instances[index % 2]!.address, workspace.url).post('/login', { email: 'target@example.com', password: `wrong guess number ${index}` }),
      ),
    );
    expect(statusCounts(responses)).toEqual({ 401: 5, 429: 35 });
    const checked = (await listAuditEvents(handle.db, workspace.id, 100)).filter((event) => event.reason === 'wrong_password');
    expect(checked).toHaveLength(5);
  });
});
