import type { FastifyReply, FastifyRequest } from 'fastify';
import { htmlTemplates } from '../views/eta.js';
import { usePagePolicy } from './security-headers.js';

/** Renders `views/pages/<page>.eta` inside the layout, with the workspace name and CSP nonce filled in. */
export function renderPage(request: FastifyRequest, reply: FastifyReply, page: string, data: Record<string, unknown>, status = 200): FastifyReply {
  const html = htmlTemplates.render(`./pages/${page}`, {
    workspaceName: request.workspace?.name ?? null,
    nonce: usePagePolicy(reply),
    signedOutNotice: request.signedOutNotice ?? null,
    ...data,
  });
  return reply.code(status).type('text/html; charset=utf-8').send(html);
}
