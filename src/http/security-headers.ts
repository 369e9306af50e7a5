import type { FastifyReply, FastifyRequest } from 'fastify';
import { generateNonce } from '../crypto/tokens.js';
import { ensureBrowserCookie, readBrowserCookie } from './session-cookie.js';

/**
 * Headers on every response. The CSP allows only this response's inline script and style (by
 * nonce), forbids framing (clickjacking) and plugins. `same-origin` sends no `Referer` to other
 * sites while keeping `Origin` on our own form posts (under `no-referrer` browsers send
 * `Origin: null`); token pages tighten it with `useNoReferrerPolicy`. `no-store` keeps signed-in
 * and token pages out of shared and browser caches.
 */
export function setSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const nonce = generateNonce();
  request.cspNonce = nonce;
  reply.headers({
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'`,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    'cache-control': 'no-store',
  });
}

/** HSTS for workspaces served over https: browsers will not try plain http for a year. */
export function setTransportSecurity(reply: FastifyReply, workspaceUrl: string): void {
  if (workspaceUrl.startsWith('https:')) reply.header('strict-transport-security', 'max-age=31536000');
}

/**
 * For pages whose address holds a token: no `Referer` at all, not even to this site. Their forms
 * then post with `Origin: null`, so the browser also gets the SameSite cookie that vouches for
 * them where it sends no `Sec-Fetch-Site` (see origin-check.ts).
 */
export function prepareTokenPage(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('referrer-policy', 'no-referrer');
  if (readBrowserCookie(request) === undefined) ensureBrowserCookie(request, reply);
}
