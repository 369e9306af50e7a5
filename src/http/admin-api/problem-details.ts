import type { FastifyReply } from 'fastify';
import { AppError, errorRegistry } from '../../errors.js';

export interface FieldProblem {
  in: 'body' | 'query' | 'path' | 'header';
  field: string;
  detail: string;
}

/**
 * Sends an AppError as RFC 9457 problem details: `type` names the code as a URN (not meant to be
 * fetched), `title` is the registry's fixed message, `detail` the error's own safe message (never
 * an exception's text: toAppError keeps those as `cause`, for the logs).
 */
export function sendProblem(reply: FastifyReply, error: AppError, extra: { status?: number; errors?: FieldProblem[] } = {}) {
  const status = extra.status ?? error.status;
  const body = {
    type: `urn:portico:error:${error.code}`,
    title: errorRegistry[error.code].message,
    status,
    detail: error.message,
    code: error.code,
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="portico admin API", error="invalid_token"');
  // A string, so no route's success schema is applied to it.
  return reply.code(status).type('application/problem+json; charset=utf-8').send(JSON.stringify(body));
}

/** Ajv's errors of a Fastify validation failure, as fields a person can find in what they sent. */
export function fieldProblems(
  validation: readonly { instancePath: string; message?: string; params?: Record<string, unknown> }[],
  context: string | undefined,
): FieldProblem[] {
  const where: FieldProblem['in'] = context === 'querystring' ? 'query' : context === 'params' ? 'path' : context === 'headers' ? 'header' : 'body';
  return validation.map((issue) => {
    const path = issue.instancePath.split('/').filter(Boolean).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
    const named = issue.params?.missingProperty ?? issue.params?.additionalProperty;
    if (typeof named === 'string') path.push(named);
    const field = path.join('.') || (where === 'body' ? '(body)' : `(${where})`);
    const detail = issue.params?.additionalProperty ? 'is not a field of this request' : (issue.message ?? 'is not valid');
    return { in: where, field: where === 'header' ? headerName(field) : field, detail };
  });
}

/** `idempotency-key` → `Idempotency-Key`, as people write it. */
function headerName(field: string): string {
  return field.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => `${dash}${letter.toUpperCase()}`);
}
