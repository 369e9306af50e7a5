import { requireClient, type Client, type ClientSelector } from '../clients/clients.js';
import type { PorticoContext } from '../context.js';
import { AppError } from '../errors.js';
import { queueClientEmailRequest } from '../mail-requests/queue-client-email-request.js';
import type { Workspace } from '../workspaces/workspaces.js';

/**
 * The owner sends a client a sign-in link (the admin API): queued as a door's request is, under the
 * same per-address limits, but for a client the owner names, so the outcome may be told: a
 * disabled client is refused, and a mail the limits hold back is CLIENT_EMAIL_LIMITED. No browser
 * asked, so the link is bound to none: whichever browser opens it confirms before signing in.
 */
export async function sendSignInLinkToClient(context: PorticoContext, workspace: Workspace, selector: ClientSelector, input: { ip: string }): Promise<{ client: Client; expiresAt: number }> {
  const client = await requireClient(context.db, workspace, selector);
  if (client.disabled_at !== null) throw new AppError('CLIENT_DISABLED', { message: `${client.email} is disabled in the workspace "${workspace.slug}", so no sign-in link was sent.` });
  const now = context.clock.now();
  const decision = await queueClientEmailRequest(
    context,
    workspace,
    {
      template: 'magic-link-request',
      // No browser asked: the mail is written in the client's last language, else the workspace's.
      payload: { normalizedEmail: client.email_normalized, typedEmail: client.email, ip: input.ip, nextPath: null, browserBindingHash: null, locale: null },
    },
    workspace.magic_link_ttl_ms,
  );
  if (!decision.queued) throw new AppError('CLIENT_EMAIL_LIMITED');
  // Unlike a door's request, nothing here is hidden from the asker: the worker may send at once.
  context.notifyMailQueued();
  return { client, expiresAt: now + workspace.magic_link_ttl_ms };
}
