import type { PorticoContext } from '../context.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { isDatabaseUnavailable } from '../storage/database-errors.js';
import { claimDueMail, eraseMail, eraseSentMail, isMailRequest, mailTemplateOf, scheduleMailRetry, type MailPreparation, type OutboxMail, type PreparedMail } from './outbox.js';
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
}

export interface OutboxWorker {
  /** Sends due mail now rather than at the next poll. */
  wake(): void;
  /** Stops polling and waits for the mails in flight. */
  stop(): Promise<void>;
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

/** Delay before the next attempt after `attempts` failures: 1 s, 2 s, 4 s … up to 60 s, with jitter. */
export function retryDelayMs(attempts: number): number {
  const base = Math.min(60_000, 1000 * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

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
 * not get past its greeting or login) is retried with backoff until the link inside has expired;
 * any other failure a few times (`maxFailedAttempts`). A mail given up is recorded and logged. A crash between sending and erasing can send a mail
 * twice, never lose one.
 */
export function startOutboxWorker(context: PorticoContext, transport: MailTransport, options: OutboxWorkerOptions = {}): OutboxWorker {
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const leaseMs = options.leaseMs ?? 60_000;
  const batchSize = options.batchSize ?? 50;
  const logError = options.logError ?? (() => {});
  const requestsComeFirst = options.requestsComeFirst ?? (() => false);
  const prepareRequestedMail = options.prepareRequestedMail ?? null;
  let stopped = false;
  let running: Promise<void> | null = null;
  let wakeRequested = false;
  let timer: NodeJS.Timeout | null = null;

  /**
   * Mails this worker has claimed but could not prepare because the database went away. Their lease
   * is still ours, so they are tried again at the next poll rather than sitting out the lease
   * (`OUTBOX_LEASE`, a minute by default) once the database is back.
   */
  const heldBack = new Map<string, OutboxMail>();

  async function deliver(claimed: OutboxMail): Promise<void> {
    const now = context.clock.now();
    // Before any work: a row that cannot be prepared still dies when its link would have (issue 13 item 4).
    if (claimed.give_up_at <= now) return giveUp(claimed, now, 'expired', claimed.last_error);
    const prepare = isMailRequest(claimed.template) ? prepareRequestedMail : null;
    let mail: PreparedMail;
    let rendered: RenderedMail;
    try {
      if (prepare) {
        const prepared = await prepare(context, claimed, now);
        if (!prepared.mail) {
          if (prepared.warning) logError(prepared.warning, 'not sent');
          await eraseMail(context.db, claimed.id);
          return;
        }
        mail = prepared.mail;
      } else {
        mail = { template: claimed.template as MailTemplateName, recipient: claimed.recipient, payload: JSON.parse(claimed.payload) as Record<string, unknown> };
      }
      rendered = renderMail(mail.template, mail.payload);
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        heldBack.set(claimed.id, claimed);
        return;
      }
      return failCounted(claimed, now, `preparing it failed: ${reasonOf(error)}`);
    }
    try {
      const from = typeof mail.payload.from === 'string' && mail.payload.from ? mail.payload.from : context.config.mailFrom;
      await transport.send({ ...rendered, from, to: mail.recipient, workspaceId: claimed.workspace_id });
    } catch (error) {
      if (isPermanentRejection(error)) return failCounted(claimed, now, `the mail server refused it: ${reasonOf(error)}`);
      // The mail server unreachable, busy or refusing Portico itself: retried until the mail is worthless, however long that is.
      const reason = reasonOf(error);
      logError(`sending mail ${claimed.id} failed (attempt ${claimed.attempts}); retrying`, reason);
      await scheduleMailRetry(context.db, claimed.id, { retryAt: now + retryDelayMs(claimed.attempts), error: reason, countsAsFailure: false });
      return;
    }
    const sentType = mail.template === 'magic-link' ? 'magic_link.sent' : 'mail.sent';
    await eraseSentMail(context.db, claimed.id, { workspaceId: claimed.workspace_id, at: context.clock.now(), type: sentType, email: mail.recipient, detail: { template: mail.template } });
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
  }

  /**
   * Keeps up to `batchSize` mails in flight, claiming more whenever half of them are done, so the
   * SMTP connections are never left idle while a batch waits for its slowest mail.
   */
  async function drain(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    const start = (mails: OutboxMail[]) => {
      for (const mail of mails) {
        const delivery: Promise<void> = deliver(mail)
          .catch((error) => logError(`delivering mail ${mail.id} failed`, error))
          .finally(() => inFlight.delete(delivery));
        inFlight.add(delivery);
      }
    };
    try {
      do {
        wakeRequested = false;
        const busy = requestsComeFirst();
        const limit = busy ? inFlightWhileRequestsComeFirst : batchSize;
        const room = limit - inFlight.size;
        if (room > 0) {
          // Started before claiming: should the claim fail, they are held back again, not dropped.
          const retried = takeHeldBack(room, context.clock.now());
          start(retried);
          const claimed = room > retried.length ? await claimDueMail(context.db, context.clock.now(), leaseMs, room - retried.length) : [];
          start(claimed);
          if (retried.length + claimed.length === room) wakeRequested = true;
        } else {
          wakeRequested = true;
        }
        // Busy: the whole group finishes before the next is claimed. Otherwise more are claimed
        // once half are done, so the SMTP connections are never idle behind the slowest mail.
        const refillAt = busy ? 0 : limit / 2;
        while (inFlight.size > refillAt) await Promise.race(inFlight);
        if (busy) await new Promise((resolve) => setTimeout(resolve, pauseWhileRequestsComeFirstMs));
      } while (wakeRequested && !stopped);
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

  function run(): void {
    if (stopped) return;
    if (running) {
      wakeRequested = true;
      return;
    }
    if (timer) clearTimeout(timer);
    running = drain()
      .catch((error) => logError('the outbox could not be read; retrying', error))
      .finally(() => {
        running = null;
        if (!stopped) timer = setTimeout(run, wakeRequested ? 0 : pollIntervalMs);
      });
  }

  run();
  return {
    wake: run,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
