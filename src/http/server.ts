import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { WorkspaceProviders } from '../apps/oidc/workspace-providers.js';
import type { PorticoContext } from '../context.js';
import { AppError } from '../errors.js';
import type { DevMailbox } from '../mail/dev-mailbox.js';
import { longestDueWaitMs } from '../mail/outbox.js';
import { workspaceLimits } from '../rate-limits/limits.js';
import { hitRateLimit } from '../rate-limits/rate-limits.js';
import { normalizeRequestHost } from '../workspaces/workspace-url.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { renderDoorWhenLimited } from './door-pages.js';
import { registerAdminApi } from './admin-api/admin-api-routes.js';
import { sendAppError, toAppError } from './error-pages.js';
import { oidcPagesFor } from './oidc-pages.js';
import { isSameOriginRequest } from './origin-check.js';
import './request-context.js';
import { decorateRequestLocale, pageTranslator } from './request-locale.js';
import { registerBrandingRoutes } from './routes/branding-routes.js';
import { registerDevMailboxRoutes } from './routes/dev-mailbox-routes.js';
import { registerMagicLoginRoutes } from './routes/magic-login-routes.js';
import { registerPasswordRoutes } from './routes/password-routes.js';
import { registerForwardAuthRoutes } from './routes/forward-auth-routes.js';
import { registerOidcRoutes } from './routes/oidc-routes.js';
import { registerPortalRoutes } from './routes/portal-routes.js';
import { registerSignedOutNotice } from './signed-out-notice.js';
import { securityHeaders, setSecurityHeaders, setTransportSecurity } from './security-headers.js';

export interface HttpServerOptions {
  context: PorticoContext;
  /** Present outside production when no SMTP server is configured. */
  devMailbox: DevMailbox | null;
  /** A pino destination for the logs; stdout when absent. */
  logStream?: NodeJS.WritableStream;
  /** Since when the outbox worker has paused sending for an SMTP outage; null while mail flows. */
  mailPausedSince?: () => number | null;
}

/** Forms are a few short fields; anything larger is refused with 413 before it is read. */
const bodyLimitBytes = 16 * 1024;

/** Builds the HTTP server: routes on a workspace's own address, picked by the `Host` header. */
export function buildHttpServer({ context, devMailbox, logStream, mailPausedSince = () => null }: HttpServerOptions): FastifyInstance {
  /** The workspace a request's `Host` names, or null. */
  const findWorkspaceOf = (request: FastifyRequest): Promise<Workspace | null> => {
    const host = normalizeRequestHost(request.headers.host, request.protocol === 'https' ? 'https' : 'http');
    return host ? context.workspaces.findByHost(host) : Promise.resolve(null);
  };
  const app = Fastify({
    logger: {
      level: context.config.logLevel,
      stream: logStream,
      // Requests are logged by path only: the query of a link holds its token.
      serializers: {
        req: (request) => ({ method: request.method, path: request.url.split('?')[0], host: request.headers?.host }),
      },
    },
    trustProxy: toFastifyTrustProxy(context.config.trustProxy),
    bodyLimit: bodyLimitBytes,
    // One line per request only at debug level: at info, logs hold start-up, refusals and failures.
    logController: new LogController({ disableRequestLogging: context.config.logLevel !== 'debug' && context.config.logLevel !== 'trace' }),
    return503OnClosing: true,
    // The admin API's schemas (the only ones) refuse a field they do not know, rather than drop it
    // silently: a typo in a script is an error it can see.
    ajv: { customOptions: { removeAdditional: false } },
    // issue 13 item 9: a URL the router cannot decode (`/%ZZ`) or a path parameter too long used to
    // get Fastify's own JSON, without our headers; it gets the same error page as any bad request.
    frameworkErrors: (error, request, reply) => {
      setSecurityHeaders(reply);
      request.log.info({ code: 'BAD_REQUEST', reason: error.code }, 'request refused');
      // Refused before the hook that finds the workspace: found here, so the page is still the
      // workspace's, in its language, colours and with its support address (issue 18 review).
      void findWorkspaceOf(request)
        .catch(() => null)
        .then((workspace) => {
          if (workspace) request.workspace = workspace;
          // Set here: Fastify builds this request before routing, without the lazy `i18n` of the others.
          request.i18n = pageTranslator(request.headers['accept-language'], workspace);
          return sendAppError(request, reply, new AppError('BAD_REQUEST', { cause: error }));
        })
        .catch((failure: unknown) => {
          request.log.error({ err: failure }, 'the page for a bad request could not be rendered');
          if (!reply.sent) (reply as unknown as FastifyReply).code(400).type('text/plain; charset=utf-8').send('Bad request');
        });
    },
    clientErrorHandler: answerUnreadableRequest,
  });

  app.register(fastifyCookie);
  app.register(fastifyFormbody);
  app.decorateRequest('workspace', undefined as never);
  decorateRequestLocale(app);

  app.addHook('onRequest', async (request, reply) => {
    setSecurityHeaders(reply);
    if (request.routeOptions.config?.anyHost) return;
    const workspace = await findWorkspaceOf(request);
    // An address no workspace owns gets a 404 and nothing else: no hint of which hosts exist.
    if (!workspace) return sendAppError(request, reply, new AppError('WORKSPACE_NOT_FOUND'));
    request.workspace = workspace;
    setTransportSecurity(reply, workspace.url);
    if (request.method !== 'POST' || request.routeOptions.config?.crossSite) return;
    if (!isSameOriginRequest(request, workspace.url)) return sendAppError(request, reply, new AppError('CROSS_SITE_REQUEST'));
  });

  // Metrics (issue 19): one histogram observation per answer, no I/O. The route is the pattern the
  // router matched, never the URL, so a token in a path or query can neither leak into a label nor
  // make a series of its own.
  app.addHook('onResponse', async (request, reply) => {
    context.metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.addHook('preHandler', async (request, reply) => {
    const door = request.routeOptions.config?.door;
    if (!door || request.method !== 'POST') return;
    const limits = workspaceLimits(context.config.limits, request.workspace);
    const redemption = door === 'magic-link-redemption';
    const decision = await hitRateLimit(context.db, context.clock.now(), {
      key: `ip:${request.workspace.id}:${door}:${request.ip}`,
      windowMs: redemption ? 5 * 60_000 : 60_000,
      limit: redemption ? limits.redemptionsPer5Minutes : limits.ipRequestsPerMinute,
    });
    if (decision.allowed) return;
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    reply.header('retry-after', String(seconds));
    // A door with a form gets it back, with what was typed and a countdown (issue 17 item 2).
    const doorPage = renderDoorWhenLimited(request, reply, door, seconds * 1000);
    if (doorPage) return doorPage;
    return sendAppError(request, reply, new AppError('TOO_MANY_REQUESTS'), { retryAfter: request.i18n.duration(seconds * 1000) });
  });

  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, `request failed: ${appError.code}`);
    else request.log.info({ code: appError.code }, 'request refused');
    return sendAppError(request, reply, appError);
  });

  app.setNotFoundHandler((request, reply) => sendAppError(request, reply, new AppError('NOT_FOUND')));

  app.get('/healthz', { config: { anyHost: true } }, async (_request, reply) => {
    const healthy = await context.db.selectNoFrom((eb) => eb.lit(1).as('ok')).execute().then(() => true, () => false);
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'database_unavailable' });
  });

  // Readiness (issue 19): also fails while mail cannot go out, so the operator's monitoring sees a
  // sign-in service that answers but whose links never arrive. No detail of the mail server is
  // given: any host may ask; the log says why.
  app.get('/healthz/ready', { config: { anyHost: true } }, async (_request, reply) => {
    const readiness = await checkReadiness(context, mailPausedSince);
    return reply.code(readiness.status === 'ok' ? 200 : 503).send(readiness);
  });

  // Browsers ask for an icon on every first visit; answering 204 keeps a 404 out of their console.
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).send());

  registerSignedOutNotice(app, context);
  registerMagicLoginRoutes(app, context);
  registerPasswordRoutes(app, context);
  registerPortalRoutes(app, context);
  registerBrandingRoutes(app, context);
  registerForwardAuthRoutes(app, context);
  registerAdminApi(app, context);
  registerOidcRoutes(app, context, new WorkspaceProviders(context.db, context.clock, context.config, oidcPagesFor, (message, error) => app.log.error({ err: error }, message)));
  if (devMailbox) registerDevMailboxRoutes(app, devMailbox);
  return app;
}

type Readiness =
  | { status: 'ok' }
  | { status: 'database_unavailable' }
  | { status: 'mail_paused'; pausedSeconds: number }
  | { status: 'outbox_stuck'; oldestDueSeconds: number; thresholdSeconds: number };

/** Ready: the database answers, mail is not paused, and no due mail has waited longer than OUTBOX_STUCK_AFTER. */
async function checkReadiness(context: PorticoContext, mailPausedSince: () => number | null): Promise<Readiness> {
  const now = context.clock.now();
  const dueWaitMs = await longestDueWaitMs(context.db, now).catch(() => null);
  if (dueWaitMs === null) return { status: 'database_unavailable' };
  const pausedSince = mailPausedSince();
  if (pausedSince !== null) return { status: 'mail_paused', pausedSeconds: Math.floor((now - pausedSince) / 1000) };
  if (dueWaitMs > context.config.outboxStuckAfterMs) {
    return { status: 'outbox_stuck', oldestDueSeconds: Math.floor(dueWaitMs / 1000), thresholdSeconds: Math.floor(context.config.outboxStuckAfterMs / 1000) };
  }
  return { status: 'ok' };
}

/** A hop count becomes "trust the nearest N proxies", as Express and Fastify read it. */
function toFastifyTrustProxy(trustProxy: boolean | number | readonly string[]): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trustProxy === 'number') return (_address, hop) => hop < trustProxy;
  return typeof trustProxy === 'boolean' ? trustProxy : [...trustProxy];
}

/**
 * A request Node cannot even parse (a broken request line, headers too large, too slow) has no
 * route, host or reply: the answer is written to the socket, still with our security headers and
 * in plain words rather than Fastify's JSON.
 */
function answerUnreadableRequest(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const body = `${status} ${STATUS_CODES[status]}: this request could not be read.\n`;
  const headers = Object.entries({ ...securityHeaders, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), connection: 'close' });
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${headers.map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n${body}`);
  socket.destroy(error);
}
