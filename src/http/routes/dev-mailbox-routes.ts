import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import type { DevMailbox } from '../../mail/dev-mailbox.js';
import { sendAppError } from '../error-pages.js';
import { sourceLocale } from '../../i18n/locales.js';
import { translatorFor } from '../../i18n/translator.js';
import { renderPage } from '../render.js';

/**
 * `/_dev/mailbox`: registered only when the dev mailbox is in use, never in production, and shown
 * only to a browser on this machine. The server listens on every address by default and the
 * mailbox holds working sign-in links (issue 13 item 9).
 */
export function registerDevMailboxRoutes(app: FastifyInstance, mailbox: DevMailbox): void {
  app.get('/_dev/mailbox', async (request, reply) => {
    // Anyone else gets the same 404 as in production: nothing says a mailbox is here.
    if (!isFromThisMachine(request)) return sendAppError(request, reply, new AppError('NOT_FOUND'));
    const mails = mailbox.mailsOfWorkspace(request.workspace.id).map((mail) => ({
      subject: mail.subject,
      to: mail.to,
      text: mail.text,
      sentAtIso: new Date(mail.sentAt).toISOString(),
      link: /^(https?:\/\/\S+\/magic-login\/verify\?token=\S+)$/m.exec(mail.text)?.[1] ?? null,
    }));
    // A developer's tool, in English whatever the browser prefers (issue 18: only clients' pages are translated).
    request.i18n = translatorFor(sourceLocale);
    return renderPage(request, reply, 'dev-mailbox', { title: 'Dev mailbox', wide: true, mails });
  });
}

/**
 * Headers a relay adds: `X-Real-IP` (nginx's usual config), `Via`, `Forwarded`, any
 * `X-Forwarded-*` or `X-Original-*`, and the client-address headers of common CDNs and balancers.
 */
const relayHeaderNames = new Set(['forwarded', 'via', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip']);

function isRelayHeader(name: string): boolean {
  return relayHeaderNames.has(name) || name.startsWith('x-forwarded-') || name.startsWith('x-original-');
}

/**
 * The socket's own peer is a loopback address, whatever `X-Forwarded-For` claims (request.ip
 * believes it under TRUST_PROXY); and a request relayed by a proxy on this machine, which may
 * carry anyone's request, is not from this machine either: any relay header says so, not only
 * `X-Forwarded-For` (issue 13 item 9).
 */
export function isFromThisMachine(request: FastifyRequest): boolean {
  const peer = request.socket.remoteAddress ?? '';
  const loopback = peer === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(peer);
  return loopback && !Object.keys(request.headers).some(isRelayHeader);
}
