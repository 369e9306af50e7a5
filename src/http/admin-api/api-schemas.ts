import { errorRegistry } from '../../errors.js';
import { maxClientNameLength } from '../../clients/clients.js';

/**
 * The admin API's JSON schemas: Fastify validates requests and writes responses with them, and
 * @fastify/swagger builds the OpenAPI document from the same objects, so the two cannot drift.
 * Shared shapes are registered once by `$id` and become `components.schemas`.
 */
export const sharedSchemas = [
  {
    $id: 'Client',
    type: 'object',
    description: 'A client of the workspace.',
    properties: {
      id: { type: 'string', description: 'Stable id; the `X-Portico-Client-Id` of forward authentication.' },
      email: { type: 'string', description: 'The address mail goes to, as entered.' },
      name: { type: 'string', description: 'May be empty.' },
      hasPassword: { type: 'boolean' },
      disabled: { type: 'boolean', description: 'A disabled client cannot sign in.' },
    },
    required: ['id', 'email', 'name', 'hasPassword', 'disabled'],
    additionalProperties: false,
  },
  {
    $id: 'Event',
    type: 'object',
    description: 'An audit event; further fields depend on the type (a reason, an outcome…).',
    properties: {
      at: { type: 'string', format: 'date-time' },
      type: { type: 'string', examples: ['magic_link.requested', 'session.started', 'client.disabled'] },
      email: { type: ['string', 'null'] },
      ip: { type: ['string', 'null'] },
    },
    required: ['at', 'type', 'email', 'ip'],
    additionalProperties: true,
  },
  {
    $id: 'Problem',
    type: 'object',
    description: 'An error, as RFC 9457 problem details. `code` is one of docs/errors.md.',
    properties: {
      type: { type: 'string', format: 'uri', description: '`urn:portico:error:` followed by the code.' },
      title: { type: 'string', description: 'The same for every problem of this code.' },
      status: { type: 'integer' },
      detail: { type: 'string', description: 'What went wrong this time, safe to show to a person.' },
      code: { type: 'string', enum: Object.keys(errorRegistry) },
      errors: {
        type: 'array',
        description: 'With REQUEST_INVALID: each field that is missing or not valid.',
        items: {
          type: 'object',
          properties: {
            in: { type: 'string', enum: ['body', 'query', 'path', 'header'] },
            field: { type: 'string' },
            detail: { type: 'string' },
          },
          required: ['in', 'field', 'detail'],
          additionalProperties: false,
        },
      },
    },
    required: ['type', 'title', 'status', 'detail', 'code'],
    additionalProperties: false,
  },
] as const;

const problem = { content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } };

/** The problems every route may answer: no or a bad key, bad input, too many requests. */
function problems(...statuses: number[]) {
  const described: Record<number, string> = {
    400: 'A field is missing or not valid (REQUEST_INVALID), or a value the rules refuse.',
    401: 'No key, or not a live key of this workspace (API_KEY_INVALID).',
    404: 'No such client in this workspace (CLIENT_NOT_FOUND).',
    409: 'The email is another client’s (CLIENT_EXISTS), or the client is disabled (CLIENT_DISABLED).',
    413: 'The body is larger than 16 KiB (BODY_TOO_LARGE).',
    415: 'The body is not JSON (UNSUPPORTED_MEDIA_TYPE).',
    422: 'The Idempotency-Key was used with another request (IDEMPOTENCY_KEY_REUSED).',
    429: 'Too many requests with this key (TOO_MANY_REQUESTS, with Retry-After), or the client’s email limits held the mail back (CLIENT_EMAIL_LIMITED).',
  };
  return Object.fromEntries([400, 401, 429, ...statuses].map((status) => [status, { description: described[status], ...problem }]));
}

const clientId = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 100, description: 'The client’s id.' } },
  required: ['id'],
} as const;

const idempotencyKeyHeader = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'Any 1 to 255 visible ASCII characters, such as a UUID. Within 24 hours the same key with the same request gets the first answer again, and no second mail.',
    },
  },
} as const;

const limit = { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'How many per page, 1 to 1000.' } as const;
const cursor = { type: 'string', minLength: 1, maxLength: 2000, description: 'The `nextCursor` of the previous page.' } as const;
const clientName = { type: 'string', maxLength: maxClientNameLength } as const;
const email = { type: 'string', minLength: 1, maxLength: 254 } as const;

const mailAccepted = (description: string, properties: Record<string, unknown>, required: string[]) => ({
  description,
  type: 'object',
  properties: { ...properties, linkExpiresAt: { type: 'string', format: 'date-time', description: 'Until when the link in the mail works.' } },
  required: [...required, 'linkExpiresAt'],
  additionalProperties: false,
});

/** One schema per route, by its name in routes. */
export const routeSchemas = {
  listClients: {
    operationId: 'listClients',
    tags: ['clients'],
    summary: 'List clients, by email, a page at a time',
    querystring: {
      type: 'object',
      properties: { q: { type: 'string', maxLength: 254, description: 'Part of the email or name, in any case.' }, cursor, limit },
      additionalProperties: false,
    },
    response: {
      200: {
        type: 'object',
        properties: {
          clients: { type: 'array', items: { $ref: 'Client#' } },
          nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last.' },
        },
        required: ['clients', 'nextCursor'],
        additionalProperties: false,
      },
      ...problems(),
    },
  },
  getClient: {
    operationId: 'getClient',
    tags: ['clients'],
    summary: 'Read one client',
    params: clientId,
    response: { 200: { $ref: 'Client#' }, ...problems(404) },
  },
  addClient: {
    operationId: 'addClient',
    tags: ['clients'],
    summary: 'Add a client (no mail is sent; see invitations)',
    body: {
      type: 'object',
      properties: { email, name: clientName },
      required: ['email'],
      additionalProperties: false,
    },
    response: { 201: { $ref: 'Client#' }, ...problems(409, 413, 415) },
  },
  updateClient: {
    operationId: 'updateClient',
    tags: ['clients'],
    summary: 'Change a client’s email or name',
    description: 'A new email ends the client’s outstanding sign-in and reset links, which went to the old address. Sessions stay.',
    params: clientId,
    body: {
      type: 'object',
      properties: { email, name: clientName },
      minProperties: 1,
      additionalProperties: false,
    },
    response: { 200: { $ref: 'Client#' }, ...problems(404, 409, 413, 415) },
  },
  disableClient: {
    operationId: 'disableClient',
    tags: ['clients'],
    summary: 'Disable a client: they cannot sign in, and their sessions and links end at once',
    params: clientId,
    response: { 200: { $ref: 'Client#' }, ...problems(404) },
  },
  enableClient: {
    operationId: 'enableClient',
    tags: ['clients'],
    summary: 'Let a disabled client sign in again',
    params: clientId,
    response: { 200: { $ref: 'Client#' }, ...problems(404) },
  },
  sendSignInLink: {
    operationId: 'sendSignInLink',
    tags: ['clients'],
    summary: 'Email the client a sign-in link',
    description:
      'The link works once, for the workspace’s link lifetime; whichever browser opens it confirms before signing in. The per-address email limits apply: a mail they hold back is a 429 CLIENT_EMAIL_LIMITED, and nothing is sent.',
    params: clientId,
    headers: idempotencyKeyHeader,
    response: {
      202: mailAccepted('The mail is queued and goes out within seconds.', { client: { $ref: 'Client#' } }, ['client']),
      ...problems(404, 409, 422),
    },
  },
  endClientSessions: {
    operationId: 'endClientSessions',
    tags: ['clients'],
    summary: 'Sign the client out everywhere',
    params: clientId,
    response: {
      200: { type: 'object', properties: { sessionsEnded: { type: 'integer', minimum: 0 } }, required: ['sessionsEnded'], additionalProperties: false },
      ...problems(404),
    },
  },
  inviteClient: {
    operationId: 'inviteClient',
    tags: ['invitations'],
    summary: 'Add the client when needed and email a welcome link (valid 7 days) that signs them in',
    description: 'As `portico client invite`. The per-address email limits apply: a mail they hold back is a 429 CLIENT_EMAIL_LIMITED, and nothing is added or sent.',
    headers: idempotencyKeyHeader,
    body: {
      type: 'object',
      properties: { email, name: { ...clientName, description: 'For a new client.' } },
      required: ['email'],
      additionalProperties: false,
    },
    response: {
      202: mailAccepted('The welcome mail is queued and goes out within seconds.', { client: { $ref: 'Client#' }, clientAdded: { type: 'boolean' } }, ['client', 'clientAdded']),
      ...problems(409, 413, 415, 422),
    },
  },
  listEvents: {
    operationId: 'listEvents',
    tags: ['events'],
    summary: 'The audit log, newest first, a page at a time',
    querystring: { type: 'object', properties: { cursor, limit }, additionalProperties: false },
    response: {
      200: {
        type: 'object',
        properties: {
          events: { type: 'array', items: { $ref: 'Event#' } },
          nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next (older) page; null on the last.' },
        },
        required: ['events', 'nextCursor'],
        additionalProperties: false,
      },
      ...problems(),
    },
  },
};
