import type { FastifyReply, FastifyRequest } from 'fastify';
import { interactionPathPrefix } from '../apps/oidc/workspace-providers.js';
import { renderPage } from './render.js';

/**
 * Where a sign-in form's answer sends the browser: a 303 to `next`, except on an app's sign-in
 * step. That step ends in redirects to the app's own origin, and Chromium holds every redirect
 * after a form to the page's `form-action 'self'` (CSP 3, "form-action"), so the sign-in would
 * stall there. A page that moves on by itself (meta refresh, no script) makes it a plain
 * navigation; its "Continue" button is there if the refresh is blocked.
 */
export function continueAfterSignIn(request: FastifyRequest, reply: FastifyReply, next: string | null): FastifyReply {
  if (next?.startsWith(interactionPathPrefix)) return renderPage(request, reply, 'continue-to-app', { titleKey: 'continueToApp.title', refreshTo: next });
  return reply.redirect(next ?? '/', 303);
}
