import type { FastifyRequest } from 'fastify';
import type { PorticoContext } from '../context.js';
import { validateSessionToken, type ValidSession } from '../sessions/sessions.js';
import { readSessionCookie } from './session-cookie.js';

/** The live session of this request in its workspace, or null. Another workspace's cookie counts for nothing. */
export async function readCurrentSession(context: PorticoContext, request: FastifyRequest): Promise<ValidSession | null> {
  const token = readSessionCookie(request);
  if (!token || token.length > 100) return null;
  return validateSessionToken(context, context.clock, context.config.session, request.workspace.id, token);
}
