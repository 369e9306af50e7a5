export type WorkspaceOriginResult = { ok: true; url: string; host: string } | { ok: false; reason: string };

const defaultPorts: Record<string, string> = { 'http:': '80', 'https:': '443' };

/**
 * Reads a workspace address: `scheme://host[:port]` and nothing more. Returns the canonical origin
 * and the `Host` header value that selects the workspace (lower-case, default port left out).
 */
export function parseWorkspaceOrigin(text: string): WorkspaceOriginResult {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, reason: `"${text}" is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'the scheme must be http or https' };
  if (url.username || url.password) return { ok: false, reason: 'the URL must not hold a user name or password' };
  if (url.search || url.hash || text.includes('?') || text.includes('#')) return { ok: false, reason: 'the URL must not have a query or fragment' };
  if (url.pathname !== '/' || /^[a-z]+:\/\/[^/]+\/./i.test(text.trim())) return { ok: false, reason: 'the URL must not have a path' };
  // A fully qualified `x.example.` names the same host as `x.example`; requests are matched without the dot.
  if (url.hostname.endsWith('.')) url.hostname = url.hostname.replace(/\.+$/, '');
  if (!url.hostname) return { ok: false, reason: `"${text}" is not a URL` };
  return { ok: true, url: url.origin, host: url.host };
}

/** Turns a request's `Host` header into the key workspaces are stored under. */
export function normalizeRequestHost(hostHeader: string | undefined, protocol: 'http' | 'https'): string | null {
  if (!hostHeader) return null;
  const host = hostHeader.trim().toLowerCase().replace(/\.$/, '').replace(/\.:/, ':');
  if (!/^[a-z0-9.\-[\]:]+$/.test(host)) return null;
  const colon = host.lastIndexOf(':');
  if (colon > host.lastIndexOf(']')) {
    const port = host.slice(colon + 1);
    if (port === defaultPorts[`${protocol}:`]) return host.slice(0, colon);
  }
  return host;
}
