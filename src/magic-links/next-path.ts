const maxNextPathLength = 2000;
const probeOrigin = 'http://portico.invalid';

/**
 * Accepts `next` only as a path on this workspace; anything else (another origin, a
 * protocol-relative `//host`, a backslash that browsers read as a slash, a scheme such as
 * `javascript:`) gives null, and the caller lands on `/` (CVE-2024-56734, CVE-2025-27143).
 */
export function parseNextPath(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxNextPathLength) return null;
  if (!value.startsWith('/') || value.startsWith('//')) return null;
  // Browsers treat `\` as `/` and drop tabs and newlines: `/\evil.example` is `//evil.example`.
  // eslint-disable-next-line no-control-regex
  if (/[\\\x00-\x20\x7f]/.test(value)) return null;
  let resolved: URL;
  try {
    resolved = new URL(value, probeOrigin);
  } catch {
    return null;
  }
  if (resolved.origin !== probeOrigin) return null;
  const path = `${resolved.pathname}${resolved.search}${resolved.hash}`;
  // Re-check what the browser would see after normalisation, e.g. `/./%2F` tricks.
  if (!path.startsWith('/') || path.startsWith('//')) return null;
  return path;
}
