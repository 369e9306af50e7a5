import type { Client } from '../clients/clients.js';
import { rememberClientLocale } from '../clients/client-locale.js';
import type { PorticoContext } from '../context.js';
import type { Locale } from '../i18n/locales.js';
import { hashPassword, verifyPassword } from '../crypto/password-hashing.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { endEverythingOfClient } from '../sessions/end-everything-of-client.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { clearLoginFailures, loginThrottleKey, takePasswordAttempt } from './login-throttle.js';
import { queuePasswordChangedNotice } from './password-reset.js';
import { queuePasswordWebhooks } from './password-webhooks.js';
import { checkNewPassword, type PasswordProblem } from './password-rules.js';

/** Why a password was not set, for the page to say: the new one's problem, or the current one's. */
export type SetPasswordProblem = PasswordProblem | { code: 'wrong_current' } | { code: 'throttled'; retryAfterMs: number };

export type SetPasswordResult =
  | { ok: true; changed: boolean }
  | { ok: false; field: 'current_password' | 'new_password'; problem: SetPasswordProblem; retryAfterMs?: number };

/**
 * Sets a first password, or changes one after checking the current password. Every other session
 * of the client ends and outstanding sign-in and reset links die; the client gets a notice.
 */
export async function setClientPassword(
  context: PorticoContext,
  workspace: Workspace,
  client: Client,
  input: { currentPassword: unknown; newPassword: unknown; keepSessionIdHash: string | null; ip: string; /** The browser's language, for the notice mail. */ locale: Locale },
): Promise<SetPasswordResult> {
  const changing = client.password_hash !== null;
  const now = context.clock.now();
  if (changing) {
    const current = typeof input.currentPassword === 'string' ? input.currentPassword : '';
    const wrong = { ok: false, field: 'current_password', problem: { code: 'wrong_current' } } as const;
    if (current === '') return wrong;
    // A guess at the current password is a guess at the account's password: the same per-account
    // throttle as /login, taken before the check (issue 13 item 9), so a stolen session cannot
    // try passwords without limit.
    const throttleKey = loginThrottleKey(workspace.id, client.email_normalized);
    const attempt = await takePasswordAttempt(context.db, now, throttleKey);
    if (!attempt.allowed) {
      return { ok: false, field: 'current_password', problem: { code: 'throttled', retryAfterMs: attempt.retryAfterMs }, retryAfterMs: attempt.retryAfterMs };
    }
    if (!(await verifyPassword(client.password_hash!, current))) return wrong;
    await clearLoginFailures(context.db, throttleKey);
  }
  const rules = await checkNewPassword(input.newPassword, [client.email, client.name, workspace.name]);
  if (!rules.ok) return { ok: false, field: 'new_password', problem: rules.problem };
  const passwordHash = await hashPassword(input.newPassword as string);
  await context.db.transaction().execute(async (trx) => {
    await trx.updateTable('clients').set({ password_hash: passwordHash }).where('id', '=', client.id).execute();
    const sessionsEnded = await endEverythingOfClient({ db: trx, sessionCache: context.sessionCache }, client.id, {
      now,
      linkEndReason: 'superseded',
      keepSessionIdHash: input.keepSessionIdHash,
      sessionEndReason: changing ? 'password_changed' : 'password_set',
    });
    await rememberClientLocale(trx, client, input.locale);
    await queuePasswordChangedNotice(trx, workspace, client, now, input.locale);
    await recordAuditEvents(trx, [{ workspaceId: workspace.id, at: now, type: changing ? 'password.changed' : 'password.set', email: client.email, ip: input.ip }]);
    await queuePasswordWebhooks(trx, workspace, { id: client.id, email: client.email }, now, changing ? 'changed' : 'set', sessionsEnded);
  });
  context.metrics.mailsQueued.labels('password-changed').inc();
  context.notifyMailQueued();
  return { ok: true, changed: changing };
}
