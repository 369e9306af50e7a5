import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errorRegistry, isAppError, type ErrorCode } from '../errors.js';
import { isDatabaseUnavailable } from '../storage/database-errors.js';
import { sendProblem } from './admin-api/problem-details.js';
import { renderPage } from './render.js';

/**
 * What a page says for each code a page can meet, as message keys (`locales/en.json`): fixed text
 * in the visitor's language, never an exception's message. The admin API and JSON routes keep the
 * registry's English message (the admin API and CLI stay English).
 */
const pageTexts: Partial<Record<ErrorCode, { heading: string; message: string }>> = {
  WORKSPACE_NOT_FOUND: { heading: 'errorPage.workspaceNotFound.heading', message: 'errorPage.workspaceNotFound.message' },
  CROSS_SITE_REQUEST: { heading: 'errorPage.crossSite.heading', message: 'errorPage.crossSite.message' },
  BODY_TOO_LARGE: { heading: 'errorPage.bodyTooLarge.heading', message: 'errorPage.bodyTooLarge.message' },
  BAD_REQUEST: { heading: 'errorPage.badRequest.heading', message: 'errorPage.badRequest.message' },
  NOT_FOUND: { heading: 'errorPage.notFound.heading', message: 'errorPage.notFound.message' },
  NOT_SIGNED_IN: { heading: 'errorPage.notSignedIn.heading', message: 'errorPage.notSignedIn.message' },
  TOO_MANY_REQUESTS: { heading: 'errorPage.tooManyRequests.heading', message: 'errorPage.tooManyRequests.message' },
  DATABASE_UNAVAILABLE: { heading: 'errorPage.databaseUnavailable.heading', message: 'errorPage.databaseUnavailable.message' },
  INTERNAL: { heading: 'errorPage.internal.heading', message: 'errorPage.internal.message' },
};

// A code no page route raises (the admin API's own) that still reached a page: the plain "something went wrong".
const otherPageText = { heading: 'errorPage.internal.heading', message: 'errorPage.internal.message' };

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

/** Sends an AppError as a page (its text from the catalogue), or as JSON on API routes (the registry's); never an exception's text. */
export function sendAppError(request: FastifyRequest, reply: FastifyReply, error: AppError, extra: { retryAfter?: string } = {}) {
  const status = error.code === 'BAD_REQUEST' ? badRequestStatus(error) : error.status;
  // The admin API answers in problem details even before its own routes run (an unknown host).
  if (request.routeOptions.config?.adminApi || /^\/api\/v1(\/|\?|$)/.test(request.url)) return sendProblem(reply, error, { status });
  const message = errorRegistry[error.code].message;
  if (request.routeOptions.config?.api || request.url.startsWith('/api/') || request.url === '/healthz') {
    return reply.code(status).send({ error: error.code.toLowerCase(), message });
  }
  const text = pageTexts[error.code] ?? otherPageText;
  return renderPage(request, reply, 'message', {
    titleKey: text.heading,
    heading: text.heading,
    message: text.message,
    retryAfter: extra.retryAfter,
    showHomeLink: error.code !== 'WORKSPACE_NOT_FOUND' && request.workspace !== undefined,
  }, status);
}

function badRequestStatus(error: AppError): number {
  const status = (error.cause as { statusCode?: number } | undefined)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : 400;
}
