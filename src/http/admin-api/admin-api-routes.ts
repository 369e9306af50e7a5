import fastifySwagger from '@fastify/swagger';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticateApiKey, type ApiKey } from '../../api-keys/api-keys.js';
import { fingerprintRequest, runIdempotently } from '../../api-keys/idempotent-requests.js';
import { addClient, describeClient, disableClient, enableClient, listClientPage, requireClient, updateClient } from '../../clients/clients.js';
import type { PorticoContext } from '../../context.js';
import { AppError } from '../../errors.js';
import { listAuditEventPage } from '../../events/audit-events.js';
import { inviteClient } from '../../magic-links/invite-client.js';
import { sendSignInLinkToClient } from '../../magic-links/send-sign-in-link.js';
import { hitRateLimit } from '../../rate-limits/rate-limits.js';
import { endAllSessionsOfClientByOwner } from '../../sessions/end-sessions-by-owner.js';
import { toAppError } from '../error-pages.js';
import { routeSchemas, sharedSchemas } from './api-schemas.js';
import { fieldProblems, sendProblem, type FieldProblem } from './problem-details.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The admin API key the request authenticated with (routes under `/api/v1/` but the OpenAPI document). */
    apiKey: ApiKey;
  }
  interface FastifyContextConfig {
    /** A route of the admin API: errors are problem details, and the key is required unless `publicApi`. */
    adminApi?: boolean;
    /** The OpenAPI document: served without a key. */
    publicApi?: boolean;
  }
}

type IdParams = { id: string };
type PageQuery = { cursor?: string; limit: number };

/**
 * The admin API, `/api/v1/` on a workspace's own address (issue 19): JSON in, JSON out, errors
 * as problem details, a Bearer key of that workspace on every request. The handlers translate;
 * the functions they call are the CLI's.
 */
export function registerAdminApi(app: FastifyInstance, context: PorticoContext): void {
  app.register(
    async (api) => {
      await api.register(fastifySwagger, {
        openapi: {
          openapi: '3.1.0',
          info: {
            title: 'Portico admin API',
            version: '1',
            description: 'Manage one workspace’s clients, invitations, sign-in links, sessions and audit log. Create a key with `portico api-key create --workspace SLUG`.',
          },
          components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A key from `portico api-key create` (pk_…).' } } },
          security: [{ apiKey: [] }],
          tags: [
            { name: 'clients', description: 'The workspace’s clients' },
            { name: 'invitations', description: 'Welcome mails to new or existing clients' },
            { name: 'events', description: 'The audit log' },
          ],
        },
        // Shared schemas become components.schemas under their own names.
        refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `schema${index}`) },
      });
      for (const schema of sharedSchemas) api.addSchema(schema);

      // JSON only, and an empty body is no body (`curl -X POST` with a JSON content type and no data):
      // the doors' form parser has no business here.
      api.removeAllContentTypeParsers();
      const parseJson = api.getDefaultJsonParser('error', 'error');
      api.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
        if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
        parseJson(request, body as string, done);
      });

      api.decorateRequest('apiKey', undefined as never);
      api.addHook('onRequest', async (request, reply) => {
        if (request.routeOptions.config?.publicApi) return;
        // Only the Authorization header authorizes: a session cookie never does, so no other site can drive this API through a browser.
        const presented = /^Bearer[ ]+(\S+)[ ]*$/i.exec(request.headers.authorization ?? '')?.[1];
        const apiKey = presented ? await authenticateApiKey(context.db, request.workspace, presented) : null;
        if (!apiKey) {
          request.log.info({ code: 'API_KEY_INVALID' }, 'request refused');
          return sendProblem(reply, new AppError('API_KEY_INVALID'));
        }
        request.apiKey = apiKey;
        const decision = await hitRateLimit(context.db, context.clock.now(), { key: `api:${apiKey.id}`, windowMs: 60_000, limit: context.config.apiRequestsPerMinute });
        if (!decision.allowed) {
          reply.header('retry-after', String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))));
          return sendProblem(reply, new AppError('TOO_MANY_REQUESTS', { message: `This key may send ${context.config.apiRequestsPerMinute} requests a minute (LIMIT_API_PER_MINUTE).` }));
        }
      });

      api.setErrorHandler((error: FastifyError, request, reply) => {
        if (error.validation) {
          const errors = fieldProblems(error.validation, error.validationContext);
          request.log.info({ code: 'REQUEST_INVALID', fields: errors.map((problem) => problem.field) }, 'request refused');
          return sendProblem(reply, new AppError('REQUEST_INVALID', { message: errors.map((problem) => `${problem.field} (${problem.in}) ${problem.detail}`).join('; ') }), { errors });
        }
        if (error.statusCode === 415) return sendProblem(reply, new AppError('UNSUPPORTED_MEDIA_TYPE', { cause: error }));
        const appError = toAppError(error);
        if (appError.status >= 500) request.log.error({ err: error }, `request failed: ${appError.code}`);
        else request.log.info({ code: appError.code }, 'request refused');
        // A body that is not JSON at all: said as such, without the parser's own words.
        if (appError.code === 'BAD_REQUEST') return sendProblem(reply, new AppError('REQUEST_INVALID', { message: 'The body is not valid JSON.', cause: error }), { errors: [{ in: 'body', field: '(body)', detail: 'is not valid JSON' }] });
        return sendProblem(reply, appError, { errors: (error as { fields?: FieldProblem[] }).fields });
      });
      api.setNotFoundHandler((_request, reply) => sendProblem(reply, new AppError('NOT_FOUND', { message: 'The admin API has no such route; see /api/v1/openapi.json.' })));

      const config = { api: true, adminApi: true, crossSite: true } as const;

      api.get('/openapi.json', { config: { ...config, publicApi: true }, schema: { hide: true } }, async (request) => ({
        ...api.swagger(),
        servers: [{ url: request.workspace.url, description: request.workspace.name }],
      }));

      api.get<{ Querystring: PageQuery & { q?: string } }>('/clients', { config, schema: routeSchemas.listClients }, async (request) => {
        const afterEmail = request.query.cursor === undefined ? null : readCursor(request.query.cursor, 'c');
        const page = await listClientPage(context.db, request.workspace, { query: request.query.q, afterEmail, limit: request.query.limit });
        return { clients: page.clients.map(describeClient), nextCursor: page.nextAfterEmail === null ? null : writeCursor('c', page.nextAfterEmail) };
      });

      api.get<{ Params: IdParams }>('/clients/:id', { config, schema: routeSchemas.getClient }, async (request) =>
        describeClient(await requireClient(context.db, request.workspace, { id: request.params.id })),
      );

      api.post<{ Body: { email: string; name?: string } }>('/clients', { config, schema: routeSchemas.addClient }, async (request, reply) => {
        const added = await addClient(context.db, context.clock, request.workspace, { email: request.body.email, name: request.body.name });
        return reply.code(201).header('location', `/api/v1/clients/${encodeURIComponent(added.id)}`).send(describeClient(added));
      });

      api.patch<{ Params: IdParams; Body: { email?: string; name?: string } }>('/clients/:id', { config, schema: routeSchemas.updateClient }, async (request) =>
        describeClient(await updateClient(context, context.clock, request.workspace, { id: request.params.id }, request.body)),
      );

      api.post<{ Params: IdParams }>('/clients/:id/disable', { config, schema: routeSchemas.disableClient }, async (request) =>
        describeClient(await disableClient(context, context.clock, request.workspace, { id: request.params.id })),
      );

      api.post<{ Params: IdParams }>('/clients/:id/enable', { config, schema: routeSchemas.enableClient }, async (request) =>
        describeClient(await enableClient(context.db, context.clock, request.workspace, { id: request.params.id })),
      );

      api.post<{ Params: IdParams }>('/clients/:id/sign-in-link', { config, schema: routeSchemas.sendSignInLink }, async (request, reply) => {
        return answerOnce(context, request, reply, async (scoped) => {
          const sent = await sendSignInLinkToClient(scoped, request.workspace, { id: request.params.id }, { ip: request.ip });
          return { status: 202, body: { client: describeClient(sent.client), linkExpiresAt: new Date(sent.expiresAt).toISOString() } };
        });
      });

      api.delete<{ Params: IdParams }>('/clients/:id/sessions', { config, schema: routeSchemas.endClientSessions }, async (request) => ({
        sessionsEnded: await endAllSessionsOfClientByOwner(context, request.workspace, { id: request.params.id }, { ip: request.ip }),
      }));

      api.post<{ Body: { email: string; name?: string } }>('/invitations', { config, schema: routeSchemas.inviteClient }, async (request, reply) => {
        return answerOnce(context, request, reply, async (scoped) => {
          const invitation = await inviteClient(scoped, request.workspace, { email: request.body.email, name: request.body.name }, { addressLimits: true });
          return {
            status: 202,
            body: { client: describeClient(invitation.client), clientAdded: invitation.clientAdded, linkExpiresAt: new Date(invitation.expiresAt).toISOString() },
          };
        });
      });

      api.get<{ Querystring: PageQuery }>('/events', { config, schema: routeSchemas.listEvents }, async (request) => {
        const beforeId = request.query.cursor === undefined ? null : Number(readCursor(request.query.cursor, 'e'));
        if (beforeId !== null && !Number.isSafeInteger(beforeId)) throw invalidCursor();
        const page = await listAuditEventPage(context.db, request.workspace.id, { limit: request.query.limit, beforeId });
        return { events: page.events, nextCursor: page.nextBeforeId === null ? null : writeCursor('e', String(page.nextBeforeId)) };
      });
    },
    { prefix: '/api/v1' },
  );
}

/**
 * Runs a POST that sends mail, once per `Idempotency-Key` when the request has one, and sends its
 * answer; a replayed answer says so in `Idempotent-Replayed: true`.
 */
async function answerOnce(
  context: PorticoContext,
  request: FastifyRequest,
  reply: FastifyReply,
  work: (context: PorticoContext) => Promise<{ status: number; body: unknown }>,
) {
  const idempotencyKey = request.headers['idempotency-key'];
  if (typeof idempotencyKey !== 'string') {
    const done = await work(context);
    return reply.code(done.status).send(done.body);
  }
  const fingerprint = fingerprintRequest(request.method, request.url.split('?')[0]!, request.body);
  const answer = await runIdempotently(context, { apiKeyId: request.apiKey.id, idempotencyKey, fingerprint }, work);
  if (answer.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(answer.status).send(answer.body);
}

/** Cursors are opaque to callers: a kind letter and a value, base64url. */
function writeCursor(kind: 'c' | 'e', value: string): string {
  return Buffer.from(`${kind}:${value}`, 'utf8').toString('base64url');
}

function readCursor(cursor: string, kind: 'c' | 'e'): string {
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!decoded.startsWith(`${kind}:`) || decoded.length === 2) throw invalidCursor();
  return decoded.slice(2);
}

function invalidCursor(): AppError {
  const fields: FieldProblem[] = [{ in: 'query', field: 'cursor', detail: 'is not one this API gave: pass the nextCursor of the previous page' }];
  return Object.assign(new AppError('REQUEST_INVALID', { message: 'cursor (query) is not one this API gave: pass the nextCursor of the previous page.' }), { fields });
}
