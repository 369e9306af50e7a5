import type { Client } from '../clients/clients.js';
import type { PorticoContext } from '../context.js';
import { hashPassword, verifyPassword } from '../crypto/password-hashing.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { endEverythingOfClient } from '../sessions/end-everything-of-client.js';
import { describeDuration } from '../shared/duration.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { clearLoginFailures, loginThrottleKey, takePasswordAttempt } from './login-throttle.js';
import { queuePasswordChangedNotice } from './password-reset.js';
import { queuePasswordWebhooks } from './password-webhooks.js';
import { checkNewPassword } from './password-rules.js';

export type SetPasswordResult =
  | { ok: true; changed: boolean }
  | { ok: false; field: 'current_password' | 'new_password'; formError: string; retryAfterMs?: number };

/**
 * Sets a first password, or changes one after checking the current password. Every other session
 * of the client ends and outstanding sign-in and reset links die; the client gets a notice.
 */
export async function setClientPassword(
  context: PorticoContext,
  workspace: Workspace,
  client: Client,
  input: { currentPassword: unknown; newPassword: unknown; keepSessionIdHash: string | null; ip: string },
): Promise<SetPasswordResult> {
  const changing = client.password_hash !== null;
  const now = context.clock.now();
  if (changing) {
    const current = typeof input.currentPassword === 'string' ? input.currentPassword : '';
    const wrong = { ok: false, field: 'current_password', formError: 'That is not your current password.' } as const;
    if (current === '') return wrong;
    // A guess at the current password is a guess at the account's password: the same per-account
    // throttle as /login, taken before the check (issue 13 item 9), so a stolen session cannot
    // try passwords without limit.
    const throttleKey = loginThrottleKey(workspace.id, client.email_normalized);
    const attempt = await takePasswordAttempt(context.db, now, throttleKey);
    if (!attempt.allowed) {
      const wait = describeDuration(Math.ceil(attempt.retryAfterMs / 1000) * 1000);
      return { ok: false, field: 'current_password', formError: `Too many wrong passwords for this account. Try again in ${wait}.`, retryAfterMs: attempt.retryAfterMs };
    }
    if (!(await verifyPassword(client.password_hash!, current))) return wrong;
    await clearLoginFailures(context.db, throttleKey);
  }
  const rules = await checkNewPassword(input.newPassword, [client.email, client.name, workspace.name]);
  if (!rules.ok) return { ok: false, field: 'new_password', formError: rules.reason };
  const passwordHash = await hashPassword(input.newPassword as string);
  await context.db.transaction().execute(async (trx) => {
    await trx.updateTable('clients').set({ password_hash: passwordHash }).where('id', '=', client.id).execute();
    const sessionsEnded = await endEverythingOfClient({ db: trx, sessionCache: context.sessionCache }, client.id, {
      now,
      linkEndReason: 'superseded',
      keepSessionIdHash: input.keepSessionIdHash,
      sessionEndReason: changing ? 'password_changed' : 'password_set',
    });
    await queuePasswordChangedNotice(trx, workspace, client, now);
    await recordAuditEvents(trx, [{ workspaceId: workspace.id, at: now, type: changing ? 'password.changed' : 'password.set', email: client.email, ip: input.ip }]);
    await queuePasswordWebhooks(trx, workspace, { id: client.id, email: client.email }, now, changing ? 'changed' : 'set', sessionsEnded);
  });
  context.metrics.mailsQueued.labels('password-changed').inc();
  context.notifyMailQueued();
  return { ok: true, changed: changing };
}
