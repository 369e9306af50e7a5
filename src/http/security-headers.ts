import type { FastifyReply } from 'fastify';
import { generateNonce } from '../crypto/tokens.js';

/**
 * The CSP of a page: only this response's inline script and style (by nonce), no framing
 * (clickjacking), no plugins, forms sent only here, or to `formOrigin` where the answer to a form
 * sends the browser on to an app (browsers hold redirects after a form to `form-action` too).
 */
export function pagePolicy(nonce: string, formOrigin: string | null = null): string {
  const formAction = formOrigin ? `'self' ${formOrigin}` : "'self'";
  return `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' data:; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'`;
}

/** The CSP of everything that is not a page (JSON, redirects, empty answers): nothing may run or load. */
const nonPagePolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Headers on every response. `same-origin` sends no `Referer` to other sites while keeping
 * `Origin` on our own form posts (under `no-referrer` browsers send `Origin: null`); token pages
 * narrow it to the origin with `prepareTokenPage`. `no-store` keeps signed-in and token pages out of shared and
 * browser caches. Pages get their nonce'd CSP from `usePagePolicy` when they are rendered, so an
 * API answer does not pay for a random nonce it never uses.
 */
export function setSecurityHeaders(reply: FastifyReply): void {
  reply.headers(securityHeaders);
}

/** The headers `setSecurityHeaders` sends, for answers written straight to the socket. */
export const securityHeaders: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': nonPagePolicy,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'cache-control': 'no-store',
});

/** Gives a page its own nonce and the CSP that allows it; returns the nonce for its inline script and style. */
export function usePagePolicy(reply: FastifyReply): string {
  const nonce = generateNonce();
  reply.header('content-security-policy', pagePolicy(nonce));
  return nonce;
}

/** HSTS for workspaces served over https: browsers will not try plain http for a year. */
export function setTransportSecurity(reply: FastifyReply, workspaceUrl: string): void {
  if (workspaceUrl.startsWith('https:')) reply.header('strict-transport-security', 'max-age=31536000');
}

/**
 * For pages whose address holds a token: `strict-origin` sends only `scheme://host[:port]/` as
 * `Referer`, to this site and others, never the token in the address. Unlike `no-referrer`, under
 * which browsers post the page's forms with `Origin: null` (Fetch standard, "serializing a request
 * origin"), it keeps the real `Origin` on them, so the origin check needs no exception that a page
 * on a sibling host could also claim (issue 13 item 9).
 */
export function prepareTokenPage(reply: FastifyReply): void {
  reply.header('referrer-policy', 'strict-origin');
}
