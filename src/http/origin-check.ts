import type { FastifyRequest } from 'fastify';

/**
 * True when a state-changing request comes from the workspace's own pages. Browsers send
 * `Origin` on every form POST; a request without it or `Sec-Fetch-Site` (curl, a script) is no
 * cross-site forgery and passes. A sibling subdomain is another tenant, so `same-site` is refused
 * too (OWASP ASVS 3.5, login CSRF).
 */
export function isSameOriginRequest(request: FastifyRequest, workspaceUrl: string): boolean {
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return false;
  const origin = request.headers.origin;
  // issue 13 item 9: our own pages never post with `Origin: null` (token pages use
  // `strict-origin`, not `no-referrer`), but a page on a sibling plain-http host does, with no
  // `Sec-Fetch-Site` and a `portico_browser` cookie it may have planted itself (`Domain=` the parent
  // domain). Only the browser's own `Sec-Fetch-Site` can vouch for it; no cookie-derived value can.
  if (origin === 'null') return fetchSite === 'same-origin';
  if (origin !== undefined) return origin === workspaceUrl;
  if (fetchSite !== undefined) return true;
  const referer = request.headers.referer;
  if (referer === undefined) return true;
  try {
    return new URL(referer).origin === workspaceUrl;
  } catch {
    return false;
  }
}
