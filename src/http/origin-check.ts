import type { FastifyRequest } from 'fastify';

/**
 * True when a state-changing request comes from the workspace's own pages. Browsers send
 * `Sec-Fetch-Site` and `Origin` on every POST; a request without either (curl, a script) is no
 * cross-site forgery and passes. A sibling subdomain is another tenant, so `same-site` is refused
 * too (OWASP ASVS 3.5, login CSRF).
 */
export function isSameOriginRequest(request: FastifyRequest, workspaceUrl: string, hasSameSiteCookie: boolean): boolean {
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return false;
  const origin = request.headers.origin;
  if (origin === 'null') {
    // A form on a `no-referrer` page (the link page) posts with `Origin: null`. Then the browser's
    // own `Sec-Fetch-Site` vouches for it, or, where browsers send none (plain-http hosts other
    // than localhost), a SameSite=Lax cookie of ours, which no other site's form carries.
    return fetchSite === 'same-origin' || (fetchSite === undefined && hasSameSiteCookie);
  }
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
