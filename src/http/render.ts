import type { FastifyReply, FastifyRequest } from 'fastify';
import { htmlTemplates } from '../views/eta.js';
import { pageBrandingOf } from '../workspaces/workspace-branding.js';
import { usePagePolicy } from './security-headers.js';

/** Renders `views/pages/<page>.eta` inside the layout, with the workspace name and branding and the CSP nonce filled in. */
export function renderPage(request: FastifyRequest, reply: FastifyReply, page: string, data: Record<string, unknown>, status = 200): FastifyReply {
  const html = htmlTemplates.render(`./pages/${page}`, {
    workspaceName: request.workspace?.name ?? null,
    branding: pageBrandingOf(request.workspace),
    // The workspace's support address goes where someone is stuck: error and link problem pages, and any 429.
    showSupport: (page === 'message' && status >= 400) || status === 429,
    nonce: usePagePolicy(reply),
    signedOutNotice: request.signedOutNotice ?? null,
    ...data,
  });
  return reply.code(status).type('text/html; charset=utf-8').send(html);
}
