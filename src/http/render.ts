import type { FastifyReply, FastifyRequest } from 'fastify';
import { linkTag } from '../i18n/translator.js';
import { maxPasswordLength, minPasswordLength } from '../passwords/password-rules.js';
import { htmlTemplates } from '../views/eta.js';
import { pageBrandingOf } from '../workspaces/workspace-branding.js';
import { usePagePolicy } from './security-headers.js';

/**
 * Renders `views/pages/<page>.eta` inside the layout, in the request's language, with the
 * workspace name, branding and CSP nonce filled in. `titleKey` names the page title's message; `title` is a
 * title as it is (the dev mailbox, which stays English).
 */
export function renderPage(request: FastifyRequest, reply: FastifyReply, page: string, data: Record<string, unknown>, status = 200): FastifyReply {
  const i18n = request.i18n;
  const html = htmlTemplates.render(`./pages/${page}`, {
    workspaceName: request.workspace?.name ?? null,
    branding: pageBrandingOf(request.workspace),
    // The workspace's support address goes where someone is stuck: error and link problem pages, and any 429.
    showSupport: (page === 'message' && status >= 400) || status === 429,
    nonce: usePagePolicy(reply),
    signedOutNotice: request.signedOutNotice ?? null,
    minPasswordLength,
    maxPasswordLength,
    ...data,
    i18n,
    linkTag,
    title: typeof data.titleKey === 'string' ? i18n.t(data.titleKey) : data.title,
  });
  // The same address answers in the browser's language: a cache must keep one copy per language.
  reply.header('content-language', i18n.locale).header('vary', 'Accept-Language');
  return reply.code(status).type('text/html; charset=utf-8').send(html);
}
