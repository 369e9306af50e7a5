import http from 'node:http';
import * as oidc from 'openid-client';
import type { HttpAgent } from './http-agent.js';
import { rememberSecretsInRedirect, rememberTokenResponse } from './issued-secrets.js';

/**
 * `fetch` for openid-client that reaches a workspace's `*.test` address on the loopback server,
 * with the workspace's host in `Host`, as DNS would in production. Real HTTP, nothing answered here.
 * The tokens an answer hands the app are remembered, so the server's logs are checked for them.
 */
export function loopbackFetch(serverAddress: string): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const target = new URL(`${url.pathname}${url.search}`, serverAddress);
    const headers: Record<string, string> = { host: url.host };
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const body = init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? init.body : String(init.body);
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise<Response>((resolve, reject) => {
      const request = http.request(target, { method: init.method ?? 'GET', headers, agent: false }, (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(incoming.headers)) {
            for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, item);
          }
          const status = incoming.statusCode ?? 500;
          const bytes = Buffer.concat(chunks);
          if (/^application\/json\b/i.test(incoming.headers['content-type'] ?? '')) {
            try {
              rememberTokenResponse(JSON.parse(bytes.toString('utf8')));
            } catch {
              // Not JSON after all: openid-client reports it.
            }
          }
          resolve(new Response(status === 204 || status === 304 ? null : bytes, { status, headers: responseHeaders }));
        });
        incoming.on('error', reject);
      });
      request.on('error', reject);
      if (body !== undefined) request.write(body);
      request.end();
    });
  }) as typeof fetch;
}

/** A relying party built with openid-client against a workspace as issuer, over plain HTTP on loopback. */
export async function discoverWorkspace(serverAddress: string, issuer: string, clientId: string, clientSecret?: string, options: { post?: boolean } = {}): Promise<oidc.Configuration> {
  const clientAuth = clientSecret === undefined ? oidc.None() : options.post ? oidc.ClientSecretPost(clientSecret) : oidc.ClientSecretBasic(clientSecret);
  return oidc.discovery(new URL(issuer), clientId, undefined, clientAuth, { execute: [oidc.allowInsecureRequests], [oidc.customFetch]: loopbackFetch(serverAddress) as never });
}

/**
 * Follows redirects on the workspace's address with the agent (its cookies), until one leaves it;
 * the code on the address it leaves to (the app's redirect URI) is remembered as an issued secret.
 */
export async function followOnWorkspace(agent: HttpAgent, start: string, workspaceUrl: string): Promise<{ lastPath: string; leftTo: URL | null; status: number; body: string }> {
  let next = new URL(start, workspaceUrl);
  for (let hop = 0; hop < 10; hop += 1) {
    if (next.origin !== new URL(workspaceUrl).origin) {
      rememberSecretsInRedirect(next);
      return { lastPath: '', leftTo: next, status: 303, body: '' };
    }
    const response = await agent.get(`${next.pathname}${next.search}`);
    // A page that submits its own form by script (oidc-provider's), submitted as a browser would.
    const selfSubmitting = /document\.forms\[0\]\.submit\(\)/.test(response.body) ? /<form method="post" action="([^"]+)">/.exec(response.body) : null;
    if (response.status === 200 && selfSubmitting) {
      const fields = Object.fromEntries([...response.body.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/>/g)].map((match) => [match[1]!, match[2]!]));
      const target = new URL(selfSubmitting[1]!.replace(/&amp;/g, '&'), next);
      if (target.origin !== new URL(workspaceUrl).origin) return { lastPath: '', leftTo: target, status: 200, body: response.body };
      const posted = await agent.post(`${target.pathname}${target.search}`, fields);
      if (!posted.headers.location) return { lastPath: target.pathname, leftTo: null, status: posted.status, body: posted.body };
      next = new URL(posted.headers.location, target);
      continue;
    }
    if (response.status < 300 || response.status >= 400 || !response.headers.location) return { lastPath: `${next.pathname}${next.search}`, leftTo: null, status: response.status, body: response.body };
    next = new URL(response.headers.location, next);
  }
  throw new Error('too many redirects');
}
