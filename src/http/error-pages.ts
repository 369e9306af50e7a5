import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errorRegistry, isAppError, type ErrorCode } from '../errors.js';
import { isDatabaseUnavailable } from '../storage/database-errors.js';
import { sendProblem } from './admin-api/problem-details.js';
import { renderPage } from './render.js';

const headings: Partial<Record<ErrorCode, string>> = {
  WORKSPACE_NOT_FOUND: 'No portal here',
  CROSS_SITE_REQUEST: 'This request was refused',
  BODY_TOO_LARGE: 'That was too much to send',
  BAD_REQUEST: 'Something about that request was wrong',
  NOT_FOUND: 'Page not found',
  TOO_MANY_REQUESTS: 'Too many attempts',
  DATABASE_UNAVAILABLE: 'We will be right back',
  INTERNAL: 'Something went wrong',
};

/** Maps anything thrown while handling a request to an AppError; the original stays as `cause` for the logs. */
export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  const fastifyError = error as Partial<FastifyError> & { code?: string };
  if (fastifyError.statusCode === 413) return new AppError('BODY_TOO_LARGE', { cause: error });
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new AppError('BAD_REQUEST', { cause: error });
  }
  if (isDatabaseUnavailable(error)) return new AppError('DATABASE_UNAVAILABLE', { cause: error });
  return new AppError('INTERNAL', { cause: error });
}

/** Sends an AppError as a page, or as JSON on API routes; the text comes from the registry, never from an exception. */
export function sendAppError(request: FastifyRequest, reply: FastifyReply, error: AppError, extra: { retryAfter?: string } = {}) {
  const status = error.code === 'BAD_REQUEST' ? badRequestStatus(error) : error.status;
  // The admin API answers in problem details even before its own routes run (an unknown host).
  if (request.routeOptions.config?.adminApi || /^\/api\/v1(\/|\?|$)/.test(request.url)) return sendProblem(reply, error, { status });
  const message = errorRegistry[error.code].message;
  if (request.routeOptions.config?.api || request.url.startsWith('/api/') || request.url === '/healthz') {
    return reply.code(status).send({ error: error.code.toLowerCase(), message });
  }
  return renderPage(request, reply, 'message', {
    title: headings[error.code] ?? 'Something went wrong',
    heading: headings[error.code] ?? 'Something went wrong',
    message,
    retryAfter: extra.retryAfter,
    showHomeLink: error.code !== 'WORKSPACE_NOT_FOUND' && request.workspace !== undefined,
  }, status);
}

function badRequestStatus(error: AppError): number {
  const status = (error.cause as { statusCode?: number } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 400;
}
