import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors } from 'oidc-provider';
import { recordGrantGeneration } from '../../apps/oidc/oidc-storage-adapter.js';
import { handOverPorticoSession } from '../../apps/oidc/handed-over-session.js';
import { answerUserinfo } from '../../apps/oidc/userinfo.js';
import { interactionPathPrefix, type WorkspaceProviders } from '../../apps/oidc/workspace-providers.js';
import type { PorticoContext } from '../../context.js';
import { hitRateLimit } from '../../rate-limits/rate-limits.js';
import { endClientSession } from '../../sessions/sessions.js';
import { AppError } from '../../errors.js';
import { readCurrentSession } from '../current-session.js';
import { sendAppError } from '../error-pages.js';
import { isSameOriginRequest } from '../origin-check.js';
import { renderPage } from '../render.js';
import { clearSessionCookie } from '../session-cookie.js';

/** The app's back-channel endpoints, limited per IP (`LIMIT_IP_TOKEN_PER_MINUTE`). */
const backChannelPaths = new Set(['/oidc/token', '/oidc/token/revocation', '/oidc/token/introspection']);

/**
 * Every workspace is an OpenID Connect provider (issue 15): `/.well-known/openid-configuration`
 * and `/oidc/…` are handed to the workspace's oidc-provider; the sign-in step in between
 * (`/oidc/interaction/:uid`) is Portico's own, through the workspace's doors.
 */
export function registerOidcRoutes(app: FastifyInstance, context: PorticoContext, providers: WorkspaceProviders): void {
  app.register(async (scope) => {
    // oidc-provider reads the bodies it needs itself, from the request as it came.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const handOver = (request: FastifyRequest, reply: FastifyReply) => handToProvider(context, providers, request, reply);
    scope.route({ method: ['GET', 'HEAD', 'POST', 'OPTIONS'], url: '/oidc/*', config: { crossSite: true }, handler: handOver });
    // The sign-out confirmation is a form of this site, and refused from any other, like every form here.
    scope.post('/oidc/session/end/confirm', handOver);
    scope.route({ method: ['GET', 'HEAD', 'OPTIONS'], url: '/.well-known/openid-configuration', handler: handOver });
  });

  app.get(`${interactionPathPrefix}:uid`, async (request, reply) => continueInteraction(context, providers, request, reply));
}

async function handToProvider(context: PorticoContext, providers: WorkspaceProviders, request: FastifyRequest, reply: FastifyReply) {
  const plainUserinfoToken = plainUserinfoRequestToken(request);
  if (plainUserinfoToken !== null) {
    const claims = await answerUserinfo(context.db, request.workspace.id, plainUserinfoToken);
    // oidc-provider's userinfo answers with these two headers too; anything but the claims is its answer.
    if (claims) return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(claims);
  }
  const path = request.url.split('?')[0]!;
  // As oidc-provider's router reads it: `/oidc/TOKEN/` is the token endpoint too.
  const route = path.toLowerCase().replace(/\/+$/, '');
  if (request.method === 'POST' && backChannelPaths.has(route)) {
    const decision = await hitRateLimit(context.db, context.clock.now(), {
      key: `ip:${request.workspace.id}:oidc-back-channel:${request.ip}`,
      windowMs: 60_000,
      limit: context.config.tokenRequestsPerMinute,
    });
    if (!decision.allowed) {
      const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      return reply
        .code(429)
        .header('retry-after', String(seconds))
        .send({ error: 'slow_down', error_description: `too many requests from this address; try again in ${seconds} s` });
    }
  }
  const { handle } = await providers.forWorkspace(request.workspace);
  // The sign-out confirmation is a form of this site however its path is spelled (the route for
  // it refuses other origins, but `/oidc/session/end/CONFIRM` reaches the provider through `/oidc/*`).
  if (request.method === 'POST' && route === '/oidc/session/end/confirm' && !isSameOriginRequest(request, request.workspace.url)) {
    return sendAppError(request, reply, new AppError('CROSS_SITE_REQUEST'));
  }
  const porticoSession = route === '/oidc/auth' || route.startsWith('/oidc/auth/') || route.startsWith('/oidc/session/end') ? await readCurrentSession(context, request) : null;
  if (request.method === 'POST' && route === '/oidc/session/end/confirm' && porticoSession && (request.query as Record<string, unknown>).portico === 'sign-out') {
    // The "Sign out" button of Portico's sign-out page (views/pages/app-sign-out.eta) marks its
    // POST: the Portico session of this browser ends with the app's sign-out, before oidc-provider
    // ends its own and sends the browser back to the app. oidc-provider's own confirmation (when
    // another client signs in in this browser, it first ends the previous client's session there)
    // carries no mark and leaves the new Portico session alone.
    await endClientSession(context, porticoSession.clientId, porticoSession.idHash);
    clearSessionCookie(reply, request.workspace);
  }
  // What oidc-provider reads of the proxy in front is what Portico believes of it (TRUST_PROXY),
  // never what a visitor wrote in these headers.
  const raw = request.raw;
  handOverPorticoSession(raw, porticoSession);
  // The scheme is the workspace's: its cookies are `Secure` on https, as Portico's own are, even
  // when a TLS proxy in front is not (yet) trusted.
  raw.headers['x-forwarded-proto'] = new URL(request.workspace.url).protocol.slice(0, -1);
  raw.headers['x-forwarded-host'] = request.workspace.host;
  raw.headers['x-forwarded-for'] = request.ip;
  reply.hijack();
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value as string | string[]);
  // oidc-provider's own HTML is a form it submits by script (the code to an app that asked for
  // form_post, or a sign-out on the way to another client's sign-in): it adds that script's hash to
  // script-src; the form goes here or to the app's registered address, and is built by oidc-provider
  // from validated values. Portico's own pages (errors, sign-out) set their page policy instead.
  reply.raw.setHeader('content-security-policy', "default-src 'none'; script-src 'report-sample'; form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'");
  await handle(raw, reply.raw);
}

/**
 * The access token of a userinfo request in its plainest form: `GET /oidc/me` with nothing but a
 * Bearer token in the header (no query, no body, no DPoP proof, no cross-origin call, whose
 * answer needs oidc-provider's CORS). Only such a request may be answered by userinfo.ts; null
 * hands the request to oidc-provider as it came.
 */
function plainUserinfoRequestToken(request: FastifyRequest): string | null {
  if (request.method !== 'GET' || request.url !== '/oidc/me') return null;
  const { headers } = request;
  if (headers.origin !== undefined || headers.dpop !== undefined || headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0') return null;
  const match = /^bearer ([^ ]+)$/i.exec(headers.authorization ?? '');
  return match ? match[1]! : null;
}

/**
 * The sign-in step of an app's request: a browser signed in to the workspace goes straight on
 * (registered apps ask no consent); any other is sent through the workspace's doors and comes
 * back here. An app that asks for a fresh sign-in (`prompt=login`, or `max_age` shorter than the
 * session's) gets one: the client goes through the doors again, and `auth_time` is when they did.
 */
async function continueInteraction(context: PorticoContext, providers: WorkspaceProviders, request: FastifyRequest, reply: FastifyReply) {
  const { provider } = await providers.forWorkspace(request.workspace);
  try {
    const details = await provider.interactionDetails(request.raw, reply.raw);
    const session = await readCurrentSession(context, request);
    const prompts = new Set(String(details.params.prompt ?? '').split(' '));
    const maxAgeSeconds = details.params.max_age === undefined ? null : Number(details.params.max_age);
    // `prompt=login`: a sign-in made after the app asked, that is, a session other than the one
    // this browser had when this step first sent it through the doors (recorded in the step).
    const sentFrom = (details.result as { portico?: { sentToDoorsFrom: string | null } } | undefined)?.portico;
    const signedInFreshly =
      session !== null &&
      (!prompts.has('login') || (sentFrom !== undefined && sentFrom.sentToDoorsFrom !== session.idHash)) &&
      (maxAgeSeconds === null || !Number.isFinite(maxAgeSeconds) || context.clock.now() - session.signedInAt <= maxAgeSeconds * 1000);
    if (!session || !signedInFreshly) {
      if (prompts.has('none')) {
        return finish(reply, await provider.interactionResult(request.raw, reply.raw, { error: 'login_required', error_description: 'the client must sign in' }));
      }
      if (prompts.has('login') && sentFrom === undefined) {
        await provider.interactionResult(request.raw, reply.raw, { portico: { sentToDoorsFrom: session?.idHash ?? null } }, { mergeWithLastSubmission: false });
      }
      return reply.redirect(`/magic-login?next=${encodeURIComponent(`${interactionPathPrefix}${details.uid}`)}`, 303);
    }
    const clientId = String(details.params.client_id);
    const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const grant = existing && existing.accountId === session.clientId ? existing : new provider.Grant({ accountId: session.clientId, clientId });
    grant.addOIDCScope(typeof details.params.scope === 'string' ? details.params.scope : 'openid');
    const grantId = await grant.save();
    await recordGrantGeneration(context.db, request.workspace.id, grantId, session.clientGeneration);
    const returnTo = await provider.interactionResult(
      request.raw,
      reply.raw,
      { login: { accountId: session.clientId, ts: Math.floor(session.signedInAt / 1000) }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
    return finish(reply, returnTo);
  } catch (error) {
    // oidc-provider's own refusals (the step unknown, expired, opened in another browser, or its
    // session ended meanwhile in another tab) are a page; anything else is a failure of ours.
    if (!(error instanceof errors.OIDCProviderError)) throw error;
    request.log.info({ reason: error.error_description ?? error.message }, 'app sign-in step refused');
    return renderPage(
      request,
      reply,
      'message',
      {
        titleKey: 'oidc.ended.heading',
        heading: 'oidc.ended.heading',
        message: 'oidc.ended.message',
        showHomeLink: true,
      },
      400,
    );
  }
}

function finish(reply: FastifyReply, returnTo: string) {
  return reply.redirect(returnTo, 303);
}
