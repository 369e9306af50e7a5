import type { Client } from '../clients/clients.js';
import type { PorticoContext } from '../context.js';
import { hashPassword, verifyPassword } from '../crypto/password-hashing.js';
import { recordAuditEvents } from '../events/audit-events.js';
import { endAllClientSessions } from '../sessions/sessions.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { queuePasswordChangedNotice } from './password-reset.js';
import { checkNewPassword } from './password-rules.js';

export type SetPasswordResult = { ok: true; changed: boolean } | { ok: false; field: 'current_password' | 'new_password'; formError: string };

/**
 * Sets a first password, or changes one after checking the current password. Every other session
 * of the client ends and outstanding reset links die; the client gets a notice.
 */
export async function setClientPassword(
  context: PorticoContext,
  workspace: Workspace,
  client: Client,
  input: { currentPassword: unknown; newPassword: unknown; keepSessionIdHash: string | null; ip: string },
): Promise<SetPasswordResult> {
  const changing = client.password_hash !== null;
  if (changing) {
    const current = typeof input.currentPassword === 'string' ? input.currentPassword : '';
    if (current === '' || !(await verifyPassword(client.password_hash!, current))) {
      return { ok: false, field: 'current_password', formError: 'That is not your current password.' };
    }
  }
  const rules = await checkNewPassword(input.newPassword, [client.email, client.name, workspace.name]);
  if (!rules.ok) return { ok: false, field: 'new_password', formError: rules.reason };
  const passwordHash = await hashPassword(input.newPassword as string);
  const now = context.clock.now();
  await context.db.transaction().execute(async (trx) => {
    await trx.updateTable('clients').set({ password_hash: passwordHash }).where('id', '=', client.id).execute();
    await endAllClientSessions({ db: trx, sessionCache: context.sessionCache }, client.id, { except: input.keepSessionIdHash });
    await trx.updateTable('password_resets').set({ ended_at: now }).where('client_id', '=', client.id).where('ended_at', 'is', null).execute();
    await queuePasswordChangedNotice(trx, workspace, client, now);
    await recordAuditEvents(trx, [{ workspaceId: workspace.id, at: now, type: changing ? 'password.changed' : 'password.set', email: client.email, ip: input.ip }]);
  });
  context.notifyMailQueued();
  return { ok: true, changed: changing };
}
