import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { constantTimeEqual, looksLikeSecretToken } from '../crypto/tokens.js';

/**
 * What a state-changing request's browser headers say about where it comes from:
 * - `allowed`: the workspace's own page, or no browser at all (curl, a script: no forgery);
 * - `cross-site`: another site, a sibling subdomain included (another tenant; login CSRF, OWASP ASVS 3.5);
 * - `needs-browser-proof`: `Origin: null` without `Sec-Fetch-Site`, which is what our own token
 *   pages send on plain-http hosts other than localhost, and also what a sibling host's page sends
 *   (issue 13 item 9). Only the form field `browser_proof` can tell them apart (`hasBrowserProof`).
 */
export type OriginVerdict = 'allowed' | 'cross-site' | 'needs-browser-proof';

/** Judges a POST by `Sec-Fetch-Site`, `Origin` and `Referer` against the workspace's own origin. */
export function judgeRequestOrigin(request: FastifyRequest, workspaceUrl: string): OriginVerdict {
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return 'cross-site';
  const origin = request.headers.origin;
  if (origin === 'null') {
    // A form on a `no-referrer` page (the token pages) posts with `Origin: null`. The browser's own
    // `Sec-Fetch-Site` vouches for it; where browsers send none (plain-http hosts other than
    // localhost), a SameSite cookie proves nothing: a sibling host is the same site.
    if (fetchSite === 'same-origin') return 'allowed';
    return fetchSite === undefined ? 'needs-browser-proof' : 'cross-site';
  }
  if (origin !== undefined) return origin === workspaceUrl ? 'allowed' : 'cross-site';
  if (fetchSite !== undefined) return 'allowed';
  const referer = request.headers.referer;
  if (referer === undefined) return 'allowed';
  try {
    return new URL(referer).origin === workspaceUrl ? 'allowed' : 'cross-site';
  } catch {
    return 'cross-site';
  }
}

/** The hidden field by which a token page's form proves it was rendered for this browser. */
export const browserProofField = 'browser_proof';

/**
 * The value a token page puts in its form, derived from the browser's `portico_browser` cookie.
 * That cookie is HttpOnly and the page cannot be read from another origin, so a sibling host's
 * page cannot know it. Domain-separated, so it never equals the cookie's stored hash.
 */
export function browserProofFor(browserToken: string): string {
  return createHash('sha256').update(`portico browser proof\0${browserToken}`, 'utf8').digest('base64url');
}

/** True when the form carries the proof for the browser cookie the request carries. */
export function hasBrowserProof(browserCookie: string | undefined, body: unknown): boolean {
  if (!looksLikeSecretToken(browserCookie)) return false;
  const field = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[browserProofField] : undefined;
  return typeof field === 'string' && constantTimeEqual(field, browserProofFor(browserCookie));
}
