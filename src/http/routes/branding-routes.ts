import type { FastifyInstance } from 'fastify';
import type { PorticoContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { findWorkspaceLogo, hashFromLogoFileName, type WorkspaceLogo } from '../../workspaces/workspace-logo.js';
import { sendAppError } from '../error-pages.js';

/** Logos kept in memory: a few per workspace at most 512 KB each, so a few dozen megabytes at worst. */
const cachedLogoCount = 64;

/** A year: the longest HTTP caches are asked to keep anything (RFC 9111 gives no longer lifetime meaning). */
const logoCacheControl = 'public, max-age=31536000, immutable';

/**
 * A workspace's logo at `/assets/logo-<sha256>` on its own address (issue 18 item 1). The hash in
 * the path is the logo's own, so the answer never changes and may be cached for ever; a new logo
 * is a new address. Only this workspace's logos are found: another's hash is a 404, as is a made-up one.
 */
export function registerBrandingRoutes(app: FastifyInstance, context: PorticoContext): void {
  // A logo never changes under its hash, so one read per instance serves it after that: every page
  // view asks for it, and anyone may ask in a loop, which read and decoded the whole row each time.
  const cached = new Map<string, WorkspaceLogo>();
  app.get('/assets/:file', async (request, reply) => {
    const hash = hashFromLogoFileName((request.params as { file: string }).file);
    const key = `${request.workspace.id}:${hash}`;
    let logo = cached.get(key) ?? null;
    if (!logo && hash) {
      logo = await findWorkspaceLogo(context.db, request.workspace.id, hash);
      if (logo) {
        if (cached.size >= cachedLogoCount) cached.delete(cached.keys().next().value!);
        cached.set(key, logo);
      }
    }
    if (!logo) return sendAppError(request, reply, new AppError('NOT_FOUND'));
    return (
      reply
        .header('cache-control', logoCacheControl)
        // Mail programs and webmail show the logo from their own origin: same-origin would block it there.
        .header('cross-origin-resource-policy', 'cross-origin')
        .type(logo.contentType)
        .send(logo.bytes)
    );
  });
}
