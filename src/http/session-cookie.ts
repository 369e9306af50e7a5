import type { FastifyReply, FastifyRequest } from 'fastify';
import { generateSecretToken, looksLikeSecretToken } from '../crypto/tokens.js';
import type { Workspace } from '../workspaces/workspaces.js';

/**
 * On an https workspace the cookies take the `__Host-` prefix: the browser then insists on
 * `Secure`, `Path=/` and no `Domain`, so no sibling host can plant or overwrite them.
 */
function cookieName(workspace: Workspace, base: string): string {
  return workspace.url.startsWith('https:') ? `__Host-${base}` : base;
}

function cookieOptions(workspace: Workspace, maxAgeSeconds: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: workspace.url.startsWith('https:'),
    maxAge: maxAgeSeconds,
  };
}

const sessionCookieBase = 'portico_session';
const browserCookieBase = 'portico_browser';

export function readSessionCookie(request: FastifyRequest): string | undefined {
  return request.cookies[cookieName(request.workspace, sessionCookieBase)];
}

export function setSessionCookie(reply: FastifyReply, workspace: Workspace, token: string, expiresAt: number, now: number): void {
  reply.setCookie(cookieName(workspace, sessionCookieBase), token, cookieOptions(workspace, Math.max(1, Math.floor((expiresAt - now) / 1000))));
}

export function clearSessionCookie(reply: FastifyReply, workspace: Workspace): void {
  reply.clearCookie(cookieName(workspace, sessionCookieBase), cookieOptions(workspace, 0));
}

/** The secret that marks the browser which asked for a link, so that browser alone is signed in without a click. */
export function readBrowserCookie(request: FastifyRequest): string | undefined {
  return request.cookies[cookieName(request.workspace, browserCookieBase)];
}

export function setBrowserCookie(reply: FastifyReply, workspace: Workspace, token: string): void {
  reply.setCookie(cookieName(workspace, browserCookieBase), token, cookieOptions(workspace, 24 * 3600));
}

/** This browser's secret, set now when it has none (or a malformed one). */
export function ensureBrowserCookie(request: FastifyRequest, reply: FastifyReply): string {
  const existing = readBrowserCookie(request);
  const token = existing !== undefined && looksLikeSecretToken(existing) ? existing : generateSecretToken();
  setBrowserCookie(reply, request.workspace, token);
  return token;
}
