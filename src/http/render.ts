import type { FastifyReply, FastifyRequest } from 'fastify';
import { linkTag, type Translator } from '../i18n/translator.js';
import { maxPasswordLength, minPasswordLength } from '../passwords/password-rules.js';
import { htmlTemplates } from '../views/eta.js';
import { pageBrandingOf } from '../workspaces/workspace-branding.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { usePagePolicy } from './security-headers.js';

/** What `views/layout.eta` needs besides the page's own data. */
export interface PageFrame {
  workspace: Workspace | null | undefined;
  i18n: Translator;
  nonce: string;
  status: number;
  signedOutNotice?: string | null;
}

/**
 * `views/pages/<page>.eta` inside the layout, in the frame's language, with the workspace's name
 * and branding and the CSP nonce: Portico's own pages and those it renders for oidc-provider alike.
 * `titleKey` names the page title's message; `title` is a title as it is (the dev mailbox, which
 * stays English).
 */
export function pageHtml(page: string, frame: PageFrame, data: Record<string, unknown>): string {
  const { i18n } = frame;
  return htmlTemplates.render(`./pages/${page}`, {
    workspaceName: frame.workspace?.name ?? null,
    branding: pageBrandingOf(frame.workspace),
    // The workspace's support address goes where someone is stuck: error and link problem pages, and any 429.
    showSupport: (page === 'message' && frame.status >= 400) || frame.status === 429,
    nonce: frame.nonce,
    signedOutNotice: frame.signedOutNotice ?? null,
    minPasswordLength,
    maxPasswordLength,
    ...data,
    i18n,
    linkTag,
    title: typeof data.titleKey === 'string' ? i18n.t(data.titleKey) : data.title,
  });
}

/** Answers with a page (`pageHtml`) in the request's language and its workspace's branding. */
export function renderPage(request: FastifyRequest, reply: FastifyReply, page: string, data: Record<string, unknown>, status = 200): FastifyReply {
  const i18n = request.i18n;
  const html = pageHtml(page, { workspace: request.workspace, i18n, nonce: usePagePolicy(reply), status, signedOutNotice: request.signedOutNotice }, data);
  // The same address answers in the browser's language: a cache must keep one copy per language.
  reply.header('content-language', i18n.locale).header('vary', 'Accept-Language');
  return reply.code(status).type('text/html; charset=utf-8').send(html);
}
