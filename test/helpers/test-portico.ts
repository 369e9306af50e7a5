import { Writable } from 'node:stream';
import { addClient, type Client } from '../../src/clients/clients.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startPortico, type RunningPortico } from '../../src/main.js';
import { createWorkspace, type Workspace } from '../../src/workspaces/workspaces.js';
import { createTestDatabase, type DialectName, type TestDatabase } from './databases.js';
import { HttpAgent } from './http-agent.js';
import { leakedSecrets } from './issued-secrets.js';
import { TestClock } from './test-clock.js';

export interface TestPorticoOptions {
  dialect: DialectName;
  smtpUrl?: string;
  /** Reuse a database (to restart a server on the same data). */
  database?: TestDatabase;
  env?: Record<string, string>;
  clock?: TestClock;
}

export interface TestPortico {
  portico: RunningPortico;
  database: TestDatabase;
  clock: TestClock;
  config: Config;
  /** Everything the server logged, for tests that look for leaked secrets. */
  logs: string[];
  /** What the dev mailbox printed to the console (only without SMTP_URL). */
  devConsole: string[];
  /** A workspace on its own host name, served by this server (`http://<name>.test:<port>`). */
  createWorkspace(name: string, options?: { ttl?: string }): Promise<Workspace>;
  addClient(workspace: Workspace, email: string, name?: string): Promise<Client>;
  /** A fresh browser-like agent on a workspace's address. */
  agent(workspace: Workspace): HttpAgent;
  /** Stops the server; the database stays unless `dropDatabase` is set. */
  stop(options?: { dropDatabase?: boolean }): Promise<void>;
}

/** Starts a real Portico on a loopback port with its own database and the given SMTP server. */
export async function startTestPortico(options: TestPorticoOptions): Promise<TestPortico> {
  const database = options.database ?? (await createTestDatabase(options.dialect));
  const clock = options.clock ?? new TestClock();
  const logs: string[] = [];
  const devConsole: string[] = [];
  const parsed = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    // Debug logging everywhere: stop() fails the test if any issued secret reached the logs.
    LOG_LEVEL: 'debug',
    // Tests ask for many links from one address and one IP; the limits get tests of their own.
    LIMIT_EMAIL_COOLDOWN: '0',
    LIMIT_EMAIL_PER_HOUR: '1000000',
    LIMIT_IP_PER_MINUTE: '1000000',
    LIMIT_IP_REDEMPTIONS_PER_5_MINUTES: '1000000',
    LIMIT_WORKSPACE_EMAILS_PER_HOUR: '1000000',
    ...(options.smtpUrl ? { SMTP_URL: options.smtpUrl } : {}),
    ...options.env,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const portico = await startPortico(parsed.config, {
    clock,
    outboxPollIntervalMs: 100,
    webhookPollIntervalMs: 100,
    logStream: new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
    // The dev mailbox prints whole mails, links included, on purpose: kept apart from the logs.
    printDevMail: (text) => devConsole.push(text),
  });
  const port = new URL(portico.address).port;
  return {
    portico,
    database,
    clock,
    config: parsed.config,
    logs,
    devConsole,
    createWorkspace: (name, workspaceOptions = {}) =>
      createWorkspace(portico.context.db, clock, {
        name,
        url: `http://${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.test:${port}`,
        magicLinkTtl: workspaceOptions.ttl,
      }),
    addClient: (workspace, email, name = '') => addClient(portico.context.db, clock, workspace, { email, name }),
    agent: (workspace) => new HttpAgent(portico.address, workspace.url),
    async stop(stopOptions = {}) {
      await portico.stop();
      if (stopOptions.dropDatabase) await database.drop();
      const leaked = leakedSecrets(logs.join('\n'));
      if (leaked.length > 0) throw new Error(`${leaked.length} issued secret(s) appeared in the server's logs`);
    },
  };
}
