import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { createPorticoContext, type PorticoContext } from './context.js';
import { seedDemoWorkspace } from './demo.js';
import { purgeExpiredRecords } from './maintenance/purge-expired.js';
import { countRequestsInFlight } from './http/requests-in-flight.js';
import { startMetricsServer, type MetricsServer } from './http/metrics-server.js';
import { buildHttpServer } from './http/server.js';
import { DevMailbox } from './mail/dev-mailbox.js';
import { startOutboxWorker, type OutboxWorker } from './mail/outbox-worker.js';
import { prepareRequestedMail } from './mail-requests/prepare-requested-mail.js';
import { createSmtpTransport, type MailTransport } from './mail/transport.js';
import type { Clock } from './shared/clock.js';
import { openDatabase, type DatabaseHandle } from './storage/database.js';
import { startWebhookWorker } from './webhooks/webhook-worker.js';
import { countWebhookDelivery } from './metrics/portico-metrics.js';
import type { Workspace } from './workspaces/workspaces.js';

export interface PorticoOptions {
  clock?: Clock;
  /** Where logs go; stdout when absent. */
  logStream?: NodeJS.WritableStream;
  /** Where the dev mailbox prints mail; stdout when absent. */
  printDevMail?: (text: string) => void;
  outboxPollIntervalMs?: number;
  webhookPollIntervalMs?: number;
}

export interface RunningPortico {
  app: FastifyInstance;
  context: PorticoContext;
  database: DatabaseHandle;
  devMailbox: DevMailbox | null;
  /** The demo workspace, when this start created it. */
  demoWorkspace: Workspace | null;
  /** Where the server listens, e.g. `http://127.0.0.1:3000`. */
  address: string;
  /** Where `/metrics` is served (METRICS_PORT), e.g. `http://127.0.0.1:9464`; null when it is not. */
  metricsAddress: string | null;
  stop(): Promise<void>;
}

/** Requests being answered at once from which the outbox worker slows down for them. */
const busyRequestCount = 8;

/** The composition root: opens the database, starts the outbox worker and the HTTP server. */
export async function startPortico(config: Config, options: PorticoOptions = {}): Promise<RunningPortico> {
  const database = await openDatabase(config.databaseUrl, config.databasePoolSize);
  let worker: OutboxWorker | null = null;
  const context = createPorticoContext(database, config, { clock: options.clock, notifyMailQueued: () => worker?.wake() });
  const devMailbox = config.smtpUrl ? null : new DevMailbox(options.printDevMail);
  const transport: MailTransport = config.smtpUrl ? createSmtpTransport(config.smtpUrl) : (devMailbox as DevMailbox);
  const app = buildHttpServer({ context, devMailbox, logStream: options.logStream, mailPausedSince: () => worker?.pausedSince() ?? null });
  const requestsInFlight = countRequestsInFlight(app.server);
  worker = startOutboxWorker(context, transport, {
    prepareRequestedMail,
    leaseMs: config.outboxLeaseMs,
    // A sign-in burst is answered first; its mail follows, a few at a time, then at full pace.
    requestsComeFirst: () => requestsInFlight() >= busyRequestCount,
    pollIntervalMs: options.outboxPollIntervalMs,
    logError: (message, error) => app.log.warn({ reason: error instanceof Error ? error.message : String(error) }, message),
    // At the level of the line that said mail stopped: whoever reads one also reads the other.
    logNotice: (message) => app.log.warn(message),
  });
  const webhookWorker = startWebhookWorker(context, {
    pollIntervalMs: options.webhookPollIntervalMs,
    // portico_webhook_deliveries_total{outcome}: delivered, retrying or given_up.
    recordWebhookDelivery: (outcome) => countWebhookDelivery(context, outcome),
    logError: (message, error) => app.log.warn({ reason: error instanceof Error ? error.message : String(error) }, message),
  });
  const purgeEveryMs = 10 * 60_000;
  const purge = () =>
    purgeExpiredRecords(context.db, context.clock.now(), {
      sessionIdleTimeoutMs: config.session.idleTimeoutMs,
      emailCooldownMs: config.limits.emailCooldownMs,
      eventsRetentionMs: config.eventsRetentionMs,
    }).catch((error: unknown) => app.log.warn({ reason: error instanceof Error ? error.message : String(error) }, 'purging expired records failed; will retry'));
  const purgeTimer = setInterval(purge, purgeEveryMs);
  purgeTimer.unref();
  // Also once at start: a server restarted more often than every 10 minutes would never purge.
  void purge();
  let metricsServer: MetricsServer | null = null;
  const stop = async () => {
    clearInterval(purgeTimer);
    await metricsServer?.close();
    await app.close();
    await worker?.stop();
    await webhookWorker.stop();
    transport.close();
    await database.close();
  };
  let address: string;
  let demoWorkspace: Workspace | null;
  try {
    address = await app.listen({ port: config.port, host: config.host });
    if (config.metrics) {
      metricsServer = await startMetricsServer(context.metrics, config.metrics.host, config.metrics.port, (message, error) => app.log.error({ err: error }, message));
    }
    // Seeded once listening, so the demo's URL carries the port actually bound (PORT=0 picks one).
    demoWorkspace = await seedDemoWorkspace(context, Number(new URL(address).port));
    if (config.production && !config.signInCodeKeySet) {
      app.log.warn(
        'SIGN_IN_CODE_KEY is unset: sign-in codes are hashed under a public key, so a copy of the database taken while a code is pending gives that code away; ' +
          'set it (the same on every instance) to the output of `openssl rand -base64 32` (SECURITY.md)',
      );
    }
    // A request that came before the demo existed must not leave "no workspace here" behind.
    if (demoWorkspace) context.workspaces.forget();
  } catch (error) {
    await stop();
    throw error;
  }
  return { app, context, database, devMailbox, demoWorkspace, address, metricsAddress: metricsServer?.address ?? null, stop };
}
