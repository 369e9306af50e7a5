import { findClientByNormalizedEmail } from '../clients/clients.js';
import { parseEmailAddress } from '../clients/email.js';
import type { PorticoContext } from '../context.js';
import { hashPassword, passwordHashNeedsUpgrade, verifyAgainstDummyPassword, verifyPassword } from '../crypto/password-hashing.js';
import { recordAuditEvents } from '../events/audit-events.js';
import type { Locale } from '../i18n/locales.js';
import { startSession, type StartedSession } from '../sessions/sessions.js';
import { queueWebhookEvent } from '../webhooks/webhook-events.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { clearLoginFailures, loginThrottleKey, takePasswordAttempt } from './login-throttle.js';
import { maxPasswordLength } from './password-rules.js';

export type PasswordSignInResult =
  | { ok: true; session: StartedSession }
  | { ok: false; reason: 'invalid_credentials' }
  | { ok: false; reason: 'throttled'; retryAfterMs: number };

/**
 * Signs a client in with email and password. An unknown email, a wrong password, a client without
 * a password and a disabled client all fail the same way, after the same argon2id work.
 */
export async function signInWithPassword(
  context: PorticoContext,
  workspace: Workspace,
  input: { email: unknown; password: unknown; ip: string; userAgent: string; /** The browser's language, noted as the client's last. */ locale: Locale },
): Promise<PasswordSignInResult> {
  const now = context.clock.now();
  const email = parseEmailAddress(input.email);
  const password = typeof input.password === 'string' ? input.password : '';
  const fail = async (reason: string, emailForLog: string | null) => {
    await recordAuditEvents(context.db, [{ workspaceId: workspace.id, at: now, type: 'login.failed', email: emailForLog, ip: input.ip, detail: { reason } }]);
  };
  if (!email.ok || password.length === 0 || password.length > maxPasswordLength * 4) {
    await verifyAgainstDummyPassword(password.slice(0, maxPasswordLength));
    await fail('malformed_input', email.ok ? email.email : null);
    return { ok: false, reason: 'invalid_credentials' };
  }

  // The attempt is taken (and counted as a failure) before the password is checked, in one
  // atomic step: simultaneous guesses cannot all read "allowed" first (issue 13 item 3).
  const throttleKey = loginThrottleKey(workspace.id, email.normalized);
  const attempt = await takePasswordAttempt(context.db, now, throttleKey);
  if (!attempt.allowed) {
    await fail('throttled', email.email);
    return { ok: false, reason: 'throttled', retryAfterMs: attempt.retryAfterMs };
  }

  const client = await findClientByNormalizedEmail(context.db, workspace.id, email.normalized);
  const matches = client?.password_hash ? await verifyPassword(client.password_hash, password) : await verifyAgainstDummyPassword(password);
  if (!client || !matches || client.disabled_at !== null) {
    const reason = !client ? 'unknown_email' : !client.password_hash ? 'no_password' : !matches ? 'wrong_password' : 'client_disabled';
    await fail(reason, email.email);
    return { ok: false, reason: 'invalid_credentials' };
  }

  // Hashes made with older parameters are redone now, while the password is at hand.
  const upgradedHash = passwordHashNeedsUpgrade(client.password_hash!) ? await hashPassword(password) : null;
  const session = await context.db.transaction().execute(async (trx) => {
    // The password was checked against the hash read before argon2's tens of milliseconds: a reset,
    // password change or disable that committed meanwhile has ended every session of the client,
    // and must end this one too. So the client row is taken again, on the condition that it is as
    // checked; it stays locked until this session is stored, so whatever ends sessions next sees it.
    // The same statement notes the browser's language as the client's last (what
    // rememberClientLocale does for the other sign-ins): no write of its own, the row is written anyway.
    const unchanged = await trx
      .updateTable('clients')
      .set({ password_hash: upgradedHash ?? client.password_hash!, last_locale: input.locale })
      .where('id', '=', client.id)
      .where('password_hash', '=', client.password_hash!)
      .where('disabled_at', 'is', null)
      .returning('session_generation')
      .executeTakeFirst();
    if (!unchanged) return null;
    await clearLoginFailures(trx, throttleKey);
    const started = await startSession(trx, context.clock, context.config.session, {
      workspaceId: workspace.id,
      clientId: client.id,
      clientGeneration: unchanged.session_generation,
      method: 'password',
      userAgent: input.userAgent,
      ip: input.ip,
    });
    await recordAuditEvents(trx, [
      { workspaceId: workspace.id, at: now, type: 'login.succeeded', email: client.email, ip: input.ip, detail: { hashUpgraded: upgradedHash !== null } },
      { workspaceId: workspace.id, at: now, type: 'session.started', email: client.email, ip: input.ip, detail: { method: 'password' } },
    ]);
    await queueWebhookEvent(trx, { workspace, type: 'client.signed_in', at: now, client: { id: client.id, email: client.email }, data: { door: 'password' } });
    return started;
  });
  if (!session) {
    await fail('password_changed_meanwhile', email.email);
    return { ok: false, reason: 'invalid_credentials' };
  }
  return { ok: true, session };
}
