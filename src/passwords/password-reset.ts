import type { Kysely } from 'kysely';
import type { Client } from '../clients/clients.js';
import { checkEmailAddress, type EmailProblem } from '../clients/email.js';
import type { PorticoContext } from '../context.js';
import { hashPassword } from '../crypto/password-hashing.js';
import { generateSecretToken, hashSecretToken } from '../crypto/tokens.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { queuePasswordWebhooks } from './password-webhooks.js';
import { enqueueMail } from '../mail/outbox.js';
import type { Locale } from '../i18n/locales.js';
import { rememberClientLocale } from '../clients/client-locale.js';
import { mailLocaleFor } from '../mail-requests/mail-language.js';
import type { MintedMail, PasswordResetRequest } from '../mail-requests/mail-request.js';
import { queueClientEmailRequest } from '../mail-requests/queue-client-email-request.js';
import { endEverythingOfClient } from '../sessions/end-everything-of-client.js';
import type { Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { checkNewPassword, type PasswordProblem } from './password-rules.js';

/** Reset links last 30 minutes: long enough to find the mail, short enough to limit a leaked one. */
export const passwordResetTtlMs = 30 * 60_000;
/** The "your password was changed" notice is worth sending for a day. */
const noticeLifetimeMs = 24 * 3600_000;

export type PasswordResetRequestResult =
  /** As MagicLinkRequestResult: `alreadySent` when the address had an email too recently, and when another can be asked for. */
  | { ok: true; email: string; alreadySent: boolean; nextRequestAt: number }
  /** The typed address is not one: what is wrong, for the page to say. */
  | { ok: false; problem: EmailProblem };

/** "Forgot password": the same answer, and the same work, for every email; a known, enabled client gets a reset link. */
export async function requestPasswordReset(
  context: PorticoContext,
  workspace: Workspace,
  input: { email: unknown; ip: string; /** The asking browser's language, for the mail. */ locale: Locale },
): Promise<PasswordResetRequestResult> {
  const email = checkEmailAddress(input.email);
  if (!email.ok) return { ok: false, problem: email.problem };
  // Sign-in and reset emails share one budget per address and one per workspace.
  const queued = await queueClientEmailRequest(context, workspace, { template: 'password-reset-request', payload: { normalizedEmail: email.normalized, typedEmail: email.email, ip: input.ip, locale: input.locale } }, passwordResetTtlMs);
  return { ok: true, email: email.email, alreadySent: !queued.queued, nextRequestAt: queued.nextRequestAt };
}

/**
 * In the outbox worker, at each attempt to send: mints a fresh reset link for a known client's
 * request and stores its hash; the token goes only into the mail built in memory (issue 13 item 7).
 */
export async function mintPasswordResetMail(db: Kysely<Database>, requestedAt: number, workspace: Workspace, client: Client, request: PasswordResetRequest): Promise<MintedMail> {
  const token = generateSecretToken();
  const expiresAt = requestedAt + passwordResetTtlMs;
  await db
    .insertInto('password_resets')
    .values({ token_hash: hashSecretToken(token), workspace_id: workspace.id, client_id: client.id, created_at: requestedAt, expires_at: expiresAt, ended_at: null })
    .execute();
  return {
    template: 'password-reset',
    payload: {
      link: `${workspace.url}/reset-password?token=${token}`,
      ttlMs: passwordResetTtlMs,
      workspaceName: workspace.name,
      clientName: client.name,
      from: workspace.mail_from,
      locale: mailLocaleFor(request.locale, client, workspace),
    },
  };
}

export type ResetLinkInspection = { ok: true; clientEmail: string } | { ok: false; reason: 'unknown' | 'expired' | 'used' };

/** Looks at a reset link without using it (scanners open links). */
export async function inspectPasswordResetToken(db: Kysely<Database>, now: number, workspaceId: string, token: string): Promise<ResetLinkInspection> {
  const row = await db
    .selectFrom('password_resets')
    .innerJoin('clients', 'clients.id', 'password_resets.client_id')
    .select(['password_resets.expires_at', 'password_resets.ended_at', 'clients.email', 'clients.disabled_at'])
    .where('password_resets.token_hash', '=', hashSecretToken(token))
    .where('password_resets.workspace_id', '=', workspaceId)
    .executeTakeFirst();
  if (!row) return { ok: false, reason: 'unknown' };
  if (row.ended_at !== null || row.disabled_at !== null) return { ok: false, reason: 'used' };
  if (row.expires_at <= now) return { ok: false, reason: 'expired' };
  return { ok: true, clientEmail: row.email };
}

export type PasswordResetResult = { ok: true; clientEmail: string } | { ok: false; problem: PasswordProblem } | { ok: false; linkProblem: 'unknown' | 'expired' | 'used' };

function refuseResetLink(context: PorticoContext, reason: 'unknown' | 'expired' | 'used'): PasswordResetResult {
  context.metrics.linksRefused.labels('password-reset', reason).inc();
  return { ok: false, linkProblem: reason };
}

/**
 * Sets a new password with a reset link: the link is used atomically, every session of the client
 * ends, every outstanding sign-in and reset link dies, and a notice goes to the client.
 */
export async function resetPasswordWithToken(
  context: PorticoContext,
  workspace: Workspace,
  input: { token: string; password: unknown; ip: string; /** The browser's language, for the notice mail. */ locale: Locale },
): Promise<PasswordResetResult> {
  const inspection = await inspectPasswordResetToken(context.db, context.clock.now(), workspace.id, input.token);
  if (!inspection.ok) return refuseResetLink(context, inspection.reason);
  const rules = await checkNewPassword(input.password, [inspection.clientEmail, workspace.name]);
  if (!rules.ok) return { ok: false, problem: rules.problem };
  const passwordHash = await hashPassword(input.password as string);

  const now = context.clock.now();
  const tokenHash = hashSecretToken(input.token);
  const client = await context.db.transaction().execute(async (trx) => {
    const used = await trx
      .updateTable('password_resets')
      .set({ ended_at: now })
      .where('token_hash', '=', tokenHash)
      .where('workspace_id', '=', workspace.id)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('client_id')
      .executeTakeFirst();
    if (!used) return null;
    const updated = await trx
      .updateTable('clients')
      .set({ password_hash: passwordHash })
      .where('id', '=', used.client_id)
      .where('disabled_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (!updated) return null;
    const sessionsEnded = await endEverythingOfClient({ db: trx, sessionCache: context.sessionCache }, updated.id, { now, linkEndReason: 'superseded', sessionEndReason: 'password_reset' });
    await rememberClientLocale(trx, updated, input.locale);
    await queuePasswordChangedNotice(trx, workspace, updated, now, input.locale);
    await recordAuditEvents(trx, [{ workspaceId: workspace.id, at: now, type: 'password.reset', email: updated.email, ip: input.ip }]);
    await queuePasswordWebhooks(trx, workspace, { id: updated.id, email: updated.email }, now, 'reset', sessionsEnded);
    return updated;
  });
  // Lost a race with another use of the same link, or the client was disabled meanwhile.
  if (!client) return refuseResetLink(context, 'used');
  context.metrics.linksUsed.labels('password-reset').inc();
  context.metrics.mailsQueued.labels('password-changed').inc();
  context.notifyMailQueued();
  return { ok: true, clientEmail: client.email };
}

/**
 * Queues the "your password was changed" notice, so a client whose account was taken over hears of
 * it, in `locale`: the language of the browser the change was made in.
 */
export async function queuePasswordChangedNotice(db: Kysely<Database>, workspace: Workspace, client: Client, now: number, locale: Locale): Promise<void> {
  await enqueueMail(db, now, {
    workspaceId: workspace.id,
    template: 'password-changed',
    recipient: client.email,
    payload: { workspaceName: workspace.name, clientName: client.name, signInUrl: `${workspace.url}/magic-login`, from: workspace.mail_from, locale },
    giveUpAt: now + noticeLifetimeMs,
  });
}
