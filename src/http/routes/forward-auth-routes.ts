import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PorticoContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { parseNextPath } from '../../magic-links/next-path.js';
import { normalizeRequestHost } from '../../workspaces/workspace-url.js';
import { readCurrentSession } from '../current-session.js';
import { sendAppError } from '../error-pages.js';
import { trustedProxyCheck } from '../trusted-proxy.js';

/** The request the proxy is asking about, as Portico believes it. */
interface OriginalRequest {
  method: string;
  /** `host[:port]` that picks the workspace. */
  host: string | null;
  /** Path and query, for `next`. */
  pathAndQuery: string;
}

/**
 * `GET /auth/forward`: a reverse proxy's question before each request to an app with no sign-in
 * of its own (Caddy `forward_auth`, Traefik `ForwardAuth`, nginx `auth_request`; issue 16). Signed
 * in: 200 with who it is in `X-Portico-*` headers, which the proxy hands to the app. Signed out: a
 * browser navigation is sent to the workspace's sign-in with `next` set to where it was going;
 * anything else (an API call from a page) gets 401. The session is checked as `/api/me` checks it,
 * so ending a session shuts the app at its next request.
 */
export function registerForwardAuthRoutes(app: FastifyInstance, context: PorticoContext): void {
  const isTrustedProxy = trustedProxyCheck(context.config.trustProxy);

  app.route({
    method: 'GET',
    url: '/auth/forward',
    // The workspace is picked here: from the proxy's X-Forwarded-Host when the proxy is trusted.
    config: { anyHost: true, api: true },
    handler: async (request, reply) => {
      const original = originalRequest(request, isTrustedProxy(request));
      const workspace = original.host ? await context.workspaces.findByHost(original.host) : null;
      if (!workspace) return sendAppError(request, reply, new AppError('WORKSPACE_NOT_FOUND'));
      request.workspace = workspace;
      const session = await readCurrentSession(context, request);
      if (session) {
        return reply
          .code(200)
          .header('x-portico-client-id', session.clientId)
          .header('x-portico-client-email', session.clientEmail)
          .header('x-portico-client-name', encodeURIComponent(session.clientName))
          .header('x-portico-workspace', workspace.slug)
          .send();
      }
      if (isBrowserNavigation(request, original.method)) {
        const next = parseNextPath(original.pathAndQuery);
        const signIn = new URL('/magic-login', workspace.url);
        // Asked directly (no trusted proxy named the page), the page is this check itself: no way back to offer.
        if (next && next !== '/' && !next.startsWith('/auth/forward')) signIn.searchParams.set('next', next);
        return reply.redirect(signIn.href, 302);
      }
      return sendAppError(request, reply, new AppError('NOT_SIGNED_IN'));
    },
  });
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function originalRequest(request: FastifyRequest, fromTrustedProxy: boolean): OriginalRequest {
  const scheme = request.protocol === 'https' ? 'https' : 'http';
  const own: OriginalRequest = { method: request.method, host: normalizeRequestHost(request.headers.host, scheme), pathAndQuery: request.url };
  if (!fromTrustedProxy) return own;
  const forwardedProto = header(request, 'x-forwarded-proto')?.split(',')[0]?.trim();
  const forwardedScheme = forwardedProto === 'https' || forwardedProto === 'http' ? forwardedProto : scheme;
  const forwardedHost = header(request, 'x-forwarded-host')?.split(',')[0]?.trim();
  return {
    method: header(request, 'x-forwarded-method')?.toUpperCase() ?? own.method,
    host: forwardedHost ? normalizeRequestHost(forwardedHost, forwardedScheme) : own.host,
    pathAndQuery: header(request, 'x-forwarded-uri') ?? pathOfOriginalUrl(header(request, 'x-original-url')) ?? own.pathAndQuery,
  };
}

/** nginx's `X-Original-URL` may be a whole URL: its path and query only, its host ignored. */
function pathOfOriginalUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value, 'http://portico.invalid');
    return `${url.pathname}${url.search}`;
  } catch {
    return undefined;
  }
}

/** A page load in a browser, which can be sent to sign in; anything else gets 401. */
function isBrowserNavigation(request: FastifyRequest, method: string): boolean {
  if (header(request, 'sec-fetch-mode') === 'navigate') return true;
  return (method === 'GET' || method === 'HEAD') && (header(request, 'accept') ?? '').includes('text/html');
}
