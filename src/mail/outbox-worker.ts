import type { PorticoContext } from '../context.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { ConcurrencyLimit } from '../shared/concurrency-limit.js';
import { startPollingLoop, type PollingLoopState } from '../shared/polling-loop.js';
import { isDatabaseUnavailable } from '../storage/database-errors.js';
import { mailBrandingOf, mailSenderOf } from '../workspaces/workspace-branding.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { claimDueMail, describeOutbox, eraseMail, eraseSentMail, isMailRequest, mailTemplateOf, scheduleMailRetry, type MailPreparation, type OutboxMail, type PreparedMail } from './outbox.js';
import { renderMail, type MailTemplateName, type RenderedMail } from './templates.js';
import type { MailTransport } from './transport.js';

export interface OutboxWorkerOptions {
  /**
   * Turns a row that is a request rather than a mail into its mail (or into nothing: the row is
   * then erased) at each attempt to send it, minting a fresh link each time (a link is stored only
   * as its hash, so a retry cannot send the one before): issue 13 item 7. Given by the composition
   * root, so that mail/ knows nothing of sign-in.
   */
  prepareRequestedMail?: (context: PorticoContext, row: OutboxMail, now: number) => Promise<MailPreparation>;
  pollIntervalMs?: number;
  leaseMs?: number;
  batchSize?: number;
  /**
   * True while requests are waiting to be answered: the worker then keeps only a few mails in
   * flight, so a burst of sign-ins is answered first and its mail follows at a slower pace.
   */
  requestsComeFirst?: () => boolean;
  /** Where failures are reported; never given a token or a rendered mail. */
  logError?: (message: string, error: unknown) => void;
  /** Where the end of an SMTP outage is reported (its start and summaries go through logError). */
  logNotice?: (message: string) => void;
}

export interface OutboxWorker {
  /** Sends due mail now rather than at the next poll. */
  wake(): void;
  /** Stops polling and waits for the mails in flight. */
  stop(): Promise<void>;
  /** Since when sending is paused because the mail server cannot be reached (clock time); null while mail flows. */
  pausedSince(): number | null;
}

/**
 * While requests come first, mail moves in small groups with a pause between: a group is claimed,
 * sent and finished together before the next, so its mails' statements share the same few
 * batches (one round trip for the group, not one per mail) and the answers keep most of the CPU.
 * About a hundred and fifty mails a second still go out under the heaviest load.
 */
const inFlightWhileRequestsComeFirst = 8;
const pauseWhileRequestsComeFirstMs = 40;

/**
 * Attempts that may fail for a reason other than the mail server being unreachable (preparing the
 * mail threw, the server refused it for good) before the mail is given up: issue 13 item 4.
 */
export const maxFailedAttempts = 5;

/** A held-back mail is tried again only while at least this much of its lease is left. */
const leaseSafetyMarginMs = 5_000;

/** While sending is paused, the summary of the outage is logged this often. */
export const outageSummaryEveryMs = 60_000;

/** Delay before the next probe of an unreachable mail server after `probes` failed: 1 s, 2 s, 4 s … up to 30 s, with jitter. */
export function probeDelayMs(probes: number): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.max(0, probes - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** Delay before the next attempt after `attempts` failures: 1 s, 2 s, 4 s … up to 60 s, with jitter. */
export function retryDelayMs(attempts: number): number {
  const base = Math.min(60_000, 1000 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * The failure is the mail server's, not this mail's: it could not be reached (refused, reset,
 * timed out, no such host), or would not let Portico in (a bad greeting, TLS, a login refused, a
 * 530 "authentication required" or 421 "closing" to a command). Every other mail would fail alike,
 * so sending pauses as a whole (issue 19 item 4). A 4xx or 5xx answer about this mail's sender,
 * recipients or data (nodemailer's EENVELOPE, EMESSAGE) is the mail's own.
 */
function isMailServerUnavailable(error: unknown): boolean {
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
  if (code !== 'EENVELOPE' && code !== 'EMESSAGE') return true;
  return responseCode === 530 || responseCode === 421;
}

/** `2 min 5 s`, `40 s`: how long an outage has lasted, for its log lines. */
function describeElapsed(milliseconds: number): string {
  const seconds = Math.max(0, Math.round(milliseconds / 1000));
  const minutes = Math.floor(seconds / 60);
  if (minutes === 0) return `${seconds} s`;
  const hours = Math.floor(minutes / 60);
  if (hours === 0) return `${minutes} min ${seconds % 60} s`;
  return `${hours} h ${minutes % 60} min`;
}

/** What one delivery came to; only `sent` and `refused` prove that the mail server answered. */
type DeliveryOutcome = 'sent' | 'refused' | 'server_unavailable' | 'not_attempted';

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The mail server refused this very mail for good: a 5xx answer to its MAIL FROM, RCPT TO or DATA
 * (nodemailer's EENVELOPE and EMESSAGE), which sending it again would get again (RFC 5321 4.2.1).
 * Any other 5xx is about the link to the server, not the mail (a login refused with 535 while the
 * operator rotates the password, "530 must issue STARTTLS", a 554 greeting; also a 530
 * "authentication required" to MAIL FROM): such a mail is retried like an outage until it expires,
 * so fixing SMTP_URL within the link's lifetime loses no mail.
 */
function isPermanentRejection(error: unknown): boolean {
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
  if (code !== 'EENVELOPE' && code !== 'EMESSAGE') return false;
  return typeof responseCode === 'number' && responseCode >= 500 && responseCode < 600 && responseCode !== 530;
}

/**
 * Delivers the outbox: claims due mail under a lease, prepares it (a request row gets a freshly
 * minted link), sends it, erases it once sent. A mail the server could not reach (or that could
 * not get past its greeting or login) is retried until the link inside has expired; any other
 * failure a few times (`maxFailedAttempts`). A mail given up is recorded and logged. A crash
 * between sending and erasing can send a mail twice, never lose one.
 *
 * An SMTP outage is one event, not one per mail (issue 19 item 4): the first failure that is the
 * server's pauses this worker's sending as a whole. While paused it sends nothing but a probe, one
 * real mail at a time with backoff (`probeDelayMs`), so an outage costs one connection attempt per
 * probe rather than one per mail; it logs one line when mail stops, a summary every minute, and one
 * line when a probe gets an answer and mail flows again. Each instance pauses on its own.
 */
export function startOutboxWorker(context: PorticoContext, transport: MailTransport, options: OutboxWorkerOptions = {}): OutboxWorker {
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const leaseMs = options.leaseMs ?? 60_000;
  const batchSize = options.batchSize ?? 50;
  const logError = options.logError ?? (() => {});
  const logNotice = options.logNotice ?? (() => {});
  const requestsComeFirst = options.requestsComeFirst ?? (() => false);
  const prepareRequestedMail = options.prepareRequestedMail ?? null;
  const metrics = context.metrics;

  /**
   * Sends handed to the transport at once: its connections and as many waiting. When an outage
   * begins, only these meet it; every other mail sees the pause before it is handed over.
   */
  const sending = new ConcurrencyLimit(Math.max(1, transport.concurrency ?? batchSize));

  /** Set while sending is paused by an outage; clock times, so tests move them with the clock. */
  let outage: { since: number; reason: string; failedProbes: number; nextProbeAt: number; summarisedAt: number } | null = null;

  /**
   * Mails this worker has claimed but could not prepare because the database went away. Their lease
   * is still ours, so they are tried again at the next poll rather than sitting out the lease
   * (`OUTBOX_LEASE`, a minute by default) once the database is back.
   */
  const heldBack = new Map<string, OutboxMail>();

  async function deliver(claimed: OutboxMail, asProbe = false): Promise<DeliveryOutcome> {
    const now = context.clock.now();
    // Before any work: a row that cannot be prepared still dies when its link would have (issue 13 item 4).
    if (claimed.give_up_at <= now) {
      await giveUp(claimed, now, 'expired', claimed.last_error);
      return 'not_attempted';
    }
    // Paused since it was claimed: back to the queue before a link is minted for it.
    if (outage && !asProbe) return putBack(claimed, outage.reason);
    const prepare = isMailRequest(claimed.template) ? prepareRequestedMail : null;
    let mail: PreparedMail;
    let rendered: RenderedMail;
    let workspace: Workspace | null;
    try {
      if (prepare) {
        const prepared = await prepare(context, claimed, now);
        if (!prepared.mail) {
          if (prepared.warning) logError(prepared.warning, 'not sent');
          await eraseMail(context.db, claimed.id);
          return 'not_attempted';
        }
        mail = prepared.mail;
      } else {
        mail = { template: claimed.template as MailTemplateName, recipient: claimed.recipient, payload: JSON.parse(claimed.payload) as Record<string, unknown> };
      }
      // Its branding and sender as the workspace has them now (within a second of a change), not as
      // when it was queued: a mail queued before issue 18 renders the same as one queued after.
      workspace = await context.workspaces.findById(claimed.workspace_id);
      rendered = renderMail(mail.template, mail.payload, mailBrandingOf(workspace));
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        heldBack.set(claimed.id, claimed);
        return 'not_attempted';
      }
      metrics.mailAttemptFailures.labels('preparing').inc();
      await failCounted(claimed, now, `preparing it failed: ${reasonOf(error)}`);
      return 'not_attempted';
    }
    const sendingOutcome = await sending.run(async (): Promise<DeliveryOutcome | { failed: unknown }> => {
      // Paused while it waited for its turn: the link minted for it is one nobody will ever hold.
      if (outage && !asProbe) return putBack(claimed, outage.reason);
      try {
        const sender = mailSenderOf(workspace, mail.payload.from, context.config.mailFrom);
        await transport.send({ ...rendered, from: sender.from, replyTo: sender.replyTo, to: mail.recipient, workspaceId: claimed.workspace_id });
        return 'sent';
      } catch (error) {
        return { failed: error };
      }
    });
    if (sendingOutcome === 'sent') {
      const sentType = mail.template === 'magic-link' ? 'magic_link.sent' : 'mail.sent';
      await eraseSentMail(context.db, claimed.id, { workspaceId: claimed.workspace_id, at: context.clock.now(), type: sentType, email: mail.recipient, detail: { template: mail.template } });
      metrics.mailsSent.labels(mail.template).inc();
      return 'sent';
    }
    if (typeof sendingOutcome === 'string') return sendingOutcome;
    const error = sendingOutcome.failed;
    const reason = reasonOf(error);
    if (isMailServerUnavailable(error)) {
      // Retried until the mail is worthless, however long that is; when is for the probes to say.
      metrics.mailAttemptFailures.labels('server_unavailable').inc();
      if (!asProbe) beginOutage(reason);
      await scheduleMailRetry(context.db, claimed.id, { retryAt: context.clock.now(), error: reason, countsAsFailure: false });
      return 'server_unavailable';
    }
    if (isPermanentRejection(error)) {
      metrics.mailAttemptFailures.labels('refused').inc();
      await failCounted(claimed, now, `the mail server refused it: ${reason}`);
      return 'refused';
    }
    // A 4xx about this mail alone (greylisting, a full mailbox): retried with its own backoff until it expires.
    metrics.mailAttemptFailures.labels('deferred').inc();
    logError(`sending mail ${claimed.id} failed (attempt ${claimed.attempts}); retrying`, reason);
    await scheduleMailRetry(context.db, claimed.id, { retryAt: now + retryDelayMs(claimed.attempts), error: reason, countsAsFailure: false });
    return 'refused';
  }

  /** Returns a claimed mail to the queue, due at once and untried: sending is paused. */
  async function putBack(claimed: OutboxMail, reason: string): Promise<DeliveryOutcome> {
    await scheduleMailRetry(context.db, claimed.id, { retryAt: context.clock.now(), error: reason, countsAsFailure: false });
    return 'not_attempted';
  }

  function beginOutage(reason: string): void {
    if (outage) return;
    const now = context.clock.now();
    outage = { since: now, reason, failedProbes: 0, nextProbeAt: now + probeDelayMs(1), summarisedAt: now };
    metrics.mailPaused.set(1);
    logError('mail stopped flowing: the mail server cannot be reached or refuses Portico; sending is paused and the server is probed with one mail at a time until it answers', reason);
  }

  async function endOutage(): Promise<void> {
    if (!outage) return;
    const lasted = describeElapsed(context.clock.now() - outage.since);
    outage = null;
    metrics.mailPaused.set(0);
    const waiting = await describeOutbox(context.db, context.clock.now()).then(
      (state) => `${state.mails} mail(s) waiting go out now`,
      () => 'the mail waiting goes out now',
    );
    logNotice(`mail flows again: the mail server answered after ${lasted} stopped; ${waiting}`);
  }

  /** Once a minute while paused: how long, how much mail waits, and since when. */
  async function summariseOutage(now: number): Promise<void> {
    if (!outage || now - outage.summarisedAt < outageSummaryEveryMs) return;
    outage.summarisedAt = now;
    const state = await describeOutbox(context.db, now).catch(() => null);
    if (!outage) return;
    const waiting = state ? `${state.mails} mail(s) waiting, the oldest queued ${describeElapsed(state.oldestMailAgeMs)} ago` : 'the outbox could not be read';
    logError(`mail still stopped after ${describeElapsed(now - outage.since)}: ${waiting}; next probe of the mail server within ${describeElapsed(Math.max(0, outage.nextProbeAt - now))}`, outage.reason);
  }

  /**
   * While paused: at most one probe, once it is due. A row whose link expired on the way is given up
   * (no connection for it) and the next one taken; with nothing due, the probe stays due and takes
   * the next mail queued.
   */
  async function probe(loop: PollingLoopState): Promise<void> {
    await summariseOutage(context.clock.now());
    for (let taken = 0; taken < batchSize; taken += 1) {
      const current = outage;
      if (!current || loop.stopped || context.clock.now() < current.nextProbeAt) return;
      const [row] = await claimDueMail(context.db, context.clock.now(), leaseMs, 1);
      if (!row) return;
      const outcome = await deliver(row, true).catch((error: unknown): DeliveryOutcome => {
        logError(`delivering mail ${row.id} failed`, error);
        return 'not_attempted';
      });
      if (outcome === 'not_attempted') continue;
      if (outcome === 'server_unavailable') {
        current.failedProbes += 1;
        current.nextProbeAt = context.clock.now() + probeDelayMs(current.failedProbes + 1);
        return;
      }
      await endOutage();
      loop.wakeRequested = true;
      return;
    }
  }

  /** A failure that retrying may not cure (a bug, bad data, a refusal): retried a few times, then given up. */
  async function failCounted(claimed: OutboxMail, now: number, reason: string): Promise<void> {
    const failures = claimed.failures + 1;
    if (failures >= maxFailedAttempts) return giveUp(claimed, now, 'failed_attempts', reason);
    logError(`mail ${claimed.id} (${claimed.template}) could not be sent (failure ${failures} of ${maxFailedAttempts}); retrying`, reason);
    await scheduleMailRetry(context.db, claimed.id, { retryAt: now + retryDelayMs(failures), error: reason, countsAsFailure: true });
  }

  /**
   * Erases a mail that will not be sent, once the audit log and the server's log say so: should the
   * erasure fail, the row comes back and is given up again, rather than vanish unrecorded.
   */
  async function giveUp(claimed: OutboxMail, now: number, why: 'expired' | 'failed_attempts', lastError: string | null): Promise<void> {
    const template = mailTemplateOf(claimed.template);
    const workspace = await context.workspaces.findById(claimed.workspace_id);
    const what = why === 'expired' ? 'it expired before it could be sent' : `${maxFailedAttempts} attempts failed`;
    const where = workspace
      ? `of workspace ${workspace.slug}: ${what}; recorded as mail.failed (portico events --workspace ${workspace.slug})`
      : `of workspace ${claimed.workspace_id}: ${what}; its workspace no longer exists`;
    logError(`gave up ${template} mail ${claimed.id} ${where}`, lastError ?? 'no attempt had failed');
    await recordAuditEvents(context.db, [
      {
        workspaceId: claimed.workspace_id,
        at: now,
        type: 'mail.failed',
        email: claimed.recipient,
        detail: { template, reason: why, attempts: why === 'expired' ? claimed.attempts - 1 : claimed.attempts, lastError },
      },
    ]);
    await eraseMail(context.db, claimed.id);
    metrics.mailsFailed.labels(template, why).inc();
  }

  /**
   * Keeps up to `batchSize` mails in flight, claiming more whenever half of them are done, so the
   * SMTP connections are never left idle while a batch waits for its slowest mail. Claims nothing
   * more once an outage has paused sending: then only probes go out.
   */
  async function drain(loop: PollingLoopState): Promise<void> {
    if (outage) return probe(loop);
    const inFlight = new Set<Promise<void>>();
    const start = (mails: OutboxMail[]) => {
      for (const mail of mails) {
        const delivery: Promise<void> = deliver(mail)
          .then(() => {})
          .catch((error) => logError(`delivering mail ${mail.id} failed`, error))
          .finally(() => inFlight.delete(delivery));
        inFlight.add(delivery);
      }
    };
    try {
      do {
        loop.wakeRequested = false;
        const busy = requestsComeFirst();
        const limit = busy ? inFlightWhileRequestsComeFirst : batchSize;
        const room = limit - inFlight.size;
        if (room > 0) {
          // Started before claiming: should the claim fail, they are held back again, not dropped.
          const retried = takeHeldBack(room, context.clock.now());
          start(retried);
          const claimed = room > retried.length ? await claimDueMail(context.db, context.clock.now(), leaseMs, room - retried.length) : [];
          start(claimed);
          if (retried.length + claimed.length === room) loop.wakeRequested = true;
        } else {
          loop.wakeRequested = true;
        }
        // Busy: the whole group finishes before the next is claimed. Otherwise more are claimed
        // once half are done, so the SMTP connections are never idle behind the slowest mail.
        const refillAt = busy ? 0 : limit / 2;
        while (inFlight.size > refillAt) await Promise.race(inFlight);
        if (busy) await new Promise((resolve) => setTimeout(resolve, pauseWhileRequestsComeFirstMs));
      } while (loop.wakeRequested && !loop.stopped && !outage);
    } finally {
      await Promise.all(inFlight);
    }
  }

  /** Held-back mails to try again, while enough of their lease is left that no other worker can have taken them. */
  function takeHeldBack(room: number, now: number): OutboxMail[] {
    const taken: OutboxMail[] = [];
    for (const [id, mail] of heldBack) {
      if (taken.length >= room) break;
      heldBack.delete(id);
      if ((mail.lease_until ?? 0) - now > leaseSafetyMarginMs) taken.push(mail);
    }
    return taken;
  }

  const polling = startPollingLoop(drain, { pollIntervalMs, onError: (error) => logError('the outbox could not be read; retrying', error) });
  return {
    wake: polling.wake,
    stop: polling.stop,
    pausedSince: () => outage?.since ?? null,
  };
}
