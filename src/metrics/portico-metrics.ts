import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The outbox as one cheap query sees it at a scrape (mail/outbox.ts `describeOutbox`). */
export interface OutboxState {
  /** Rows waiting to be sent, whether due now or backing off. */
  mails: number;
  /** How long ago the oldest of them was queued; 0 when there is none. */
  oldestMailAgeMs: number;
  /** How long the mail that has waited longest since it fell due has been due; 0 when none is due. */
  oldestDueMs: number;
}

/** Seconds, from a few milliseconds (a page from memory) to a slow password hash under load. */
const requestDurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * This instance's metrics, in a registry of its own (never prom-client's global one: two servers in
 * one process, as in the tests, must not count into each other). Counters count what this instance
 * did, and Prometheus sums instances; the outbox gauges are read from the database at each scrape
 * and so describe the state every instance shares. prom-client decides the format; this file only
 * names what is counted.
 */
export class PorticoMetrics {
  readonly registry = new Registry();

  /** Requests by route pattern (never the raw URL: one series per route, not per token), method and status. */
  readonly httpRequestDuration = new Histogram({
    name: 'portico_http_request_duration_seconds',
    help: 'Time from a request arriving to its answer being sent, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: requestDurationBuckets,
    registers: [this.registry],
  });

  readonly linksIssued = new Counter({
    name: 'portico_links_issued_total',
    help: 'Links minted into a mail about to be sent (a retry of a mail mints a new one), by kind: magic-link, invitation, password-reset',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly linksUsed = new Counter({
    name: 'portico_links_used_total',
    help: 'Links used: sign-in (magic links and invitations) and password-reset',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly linksRefused = new Counter({
    name: 'portico_links_refused_total',
    help: 'Links refused when used, by kind and reason (unknown, other_workspace, expired, used, superseded, client_disabled)',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });

  readonly signInCodesRefused = new Counter({
    name: 'portico_sign_in_codes_refused_total',
    help: 'Sign-in codes refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly mailsQueued = new Counter({
    name: 'portico_mails_queued_total',
    help: 'Mails put in the outbox, by template (a sign-in request for an unknown address is queued too, and then comes to nothing)',
    labelNames: ['template'] as const,
    registers: [this.registry],
  });

  readonly mailsSent = new Counter({
    name: 'portico_mails_sent_total',
    help: 'Mails the mail server accepted, by template',
    labelNames: ['template'] as const,
    registers: [this.registry],
  });

  readonly mailsFailed = new Counter({
    name: 'portico_mails_failed_total',
    help: 'Mails given up (recorded as mail.failed), by template and reason: expired, failed_attempts',
    labelNames: ['template', 'reason'] as const,
    registers: [this.registry],
  });

  readonly mailAttemptFailures = new Counter({
    name: 'portico_mail_attempt_failures_total',
    help: 'Attempts to send a mail that failed, by kind: server_unavailable (unreachable, timed out, or refusing Portico), refused (5xx for this mail), deferred (4xx for this mail), preparing',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly mailPaused = new Gauge({
    name: 'portico_mail_paused',
    help: '1 while this instance has paused sending because the mail server cannot be reached, else 0',
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'portico_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(readOutbox: () => Promise<OutboxState>) {
    let reading: Promise<OutboxState | null> | null = null;
    // The three gauges share one query per scrape; a database that does not answer leaves them
    // without a sample (an alert on absent() sees it) rather than failing the whole scrape.
    const readOnce = () => {
      reading ??= readOutbox()
        .catch(() => null)
        .finally(() => setImmediate(() => (reading = null)));
      return reading;
    };
    const outboxGauge = (name: string, help: string, pick: (state: OutboxState) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          const state = await readOnce();
          if (state) this.set(pick(state));
          else this.reset();
        },
      });
    outboxGauge('portico_outbox_mails', 'Mails waiting in the outbox, shared by every instance', (state) => state.mails);
    outboxGauge('portico_outbox_oldest_mail_age_seconds', 'Age of the oldest mail waiting in the outbox', (state) => state.oldestMailAgeMs / 1000);
    outboxGauge('portico_outbox_oldest_due_seconds', 'How long the mail that has waited longest since it fell due has been waiting (0 when none is due)', (state) => state.oldestDueMs / 1000);
    // Series that alerts take a rate() of exist from the start, at 0.
    this.mailPaused.set(0);
    for (const kind of ['server_unavailable', 'refused', 'deferred', 'preparing']) this.mailAttemptFailures.labels(kind).inc(0);
    for (const reason of ['unknown', 'other_workspace', 'expired', 'used', 'superseded', 'client_disabled']) this.linksRefused.labels('sign-in', reason).inc(0);
  }

  /**
   * Adds prom-client's process metrics (CPU, memory, event-loop delay), which start observers of
   * their own: only in a server that serves metrics, never in a CLI command.
   */
  collectProcessMetrics(): void {
    if (this.processMetricsCollected) return;
    this.processMetricsCollected = true;
    collectDefaultMetrics({ register: this.registry, prefix: 'portico_' });
  }

  private processMetricsCollected = false;

  /** One answered request; called once per response, and only an observation: no I/O. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.httpRequestDuration.labels(route, method, String(status)).observe(seconds);
  }
}

/** Anything that carries this instance's metrics: the PorticoContext. */
export interface WithMetrics {
  readonly metrics: PorticoMetrics;
}

/**
 * Counts one refused sign-in code. `reason` must come from a fixed list in the code (`wrong`,
 * `expired`, `used`, `too_many_guesses`, …), never from input: every value is a series of its own.
 */
export function countSignInCodeRefused(context: WithMetrics, reason: string): void {
  context.metrics.signInCodesRefused.labels(reason).inc();
}

/**
 * Counts one webhook delivery attempt by outcome (`delivered`, `failed`, `gave_up`, …): a fixed
 * value from the code, never from the receiver's answer.
 */
export function countWebhookDelivery(context: WithMetrics, outcome: string): void {
  context.metrics.webhookDeliveries.labels(outcome).inc();
}
