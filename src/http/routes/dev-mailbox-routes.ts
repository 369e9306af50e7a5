import type { FastifyInstance } from 'fastify';
import type { DevMailbox } from '../../mail/dev-mailbox.js';
import { renderPage } from '../render.js';

/** `/_dev/mailbox`: registered only when the dev mailbox is in use, never in production. */
export function registerDevMailboxRoutes(app: FastifyInstance, mailbox: DevMailbox): void {
  app.get('/_dev/mailbox', async (request, reply) => {
    const mails = mailbox.mailsOfWorkspace(request.workspace.id).map((mail) => ({
      subject: mail.subject,
      to: mail.to,
      text: mail.text,
      sentAtIso: new Date(mail.sentAt).toISOString(),
      link: /^(https?:\/\/\S+\/magic-login\/verify\?token=\S+)$/m.exec(mail.text)?.[1] ?? null,
    }));
    return renderPage(request, reply, 'dev-mailbox', { title: 'Dev mailbox', wide: true, mails });
  });
}
