import { Validator } from '@seriousme/openapi-schema-validator';
// Ajv is what both Fastify and the OpenAPI validator check schemas with; its 2020-12 build reads OpenAPI 3.1's.
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiKey, revokeApiKey } from '../src/api-keys/api-keys.js';
import { idempotencyWindowMs } from '../src/api-keys/idempotent-requests.js';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { testDialects } from './helpers/databases.js';
import { HttpAgent, type HttpResponse } from './helpers/http-agent.js';
import { issuedSecrets } from './helpers/issued-secrets.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { TestClock } from './helpers/test-clock.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// issue 19 item 1: the admin API, through real HTTP on both databases, every answer checked
// against the OpenAPI document the server publishes (itself checked by an OpenAPI validator).

type Json = Record<string, unknown>;
type ClientJson = { id: string; email: string; name: string; hasPassword: boolean; disabled: boolean };
type Problem = { type: string; title: string; status: number; detail: string; code: string; errors?: { in: string; field: string; detail: string }[] };

interface ApiAnswer<T = Json> {
  status: number;
  headers: HttpResponse['headers'];
  body: T;
}

/** The OpenAPI document and a checker of answers against it, from the first server that serves it. */
class OpenApiChecker {
  private readonly ajv = addFormats.default(new Ajv2020.default({ strict: false, allErrors: true }));
  private readonly compiled = new Map<string, ReturnType<Ajv2020.default['compile']>>();
  /** Every (operation, status) an answer was checked against: the tests cover each route. */
  readonly checked = new Set<string>();

  constructor(readonly document: Json) {}

  static async load(document: Json): Promise<OpenApiChecker> {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    expect(result.errors ?? [], 'the OpenAPI document is valid OpenAPI 3.1').toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    return new OpenApiChecker(validator.resolveRefs() as Json);
  }

  /** Checks an answer against the schema the document gives for its route, status and content type. */
  check(method: string, path: string, answer: { status: number; headers: HttpResponse['headers']; body: unknown }): void {
    const pathname = new URL(path, 'http://x').pathname;
    const paths = this.document.paths as Record<string, Record<string, Json>>;
    const template = Object.keys(paths).find((candidate) => new RegExp(`^${candidate.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(pathname));
    if (!template) return; // an unknown route: its 404 problem is checked by the caller
    const operation = paths[template]![method.toLowerCase()] as { operationId: string; responses: Record<string, { content?: Record<string, { schema: Json }> }> } | undefined;
    if (!operation) return;
    const response = operation.responses[String(answer.status)];
    expect(response, `${method} ${template} documents a ${answer.status} answer`).toBeDefined();
    const contentType = String(answer.headers['content-type']).split(';')[0]!;
    const schema = response!.content?.[contentType]?.schema;
    expect(schema, `${method} ${template} documents ${contentType} for ${answer.status}`).toBeDefined();
    const key = `${operation.operationId} ${answer.status} ${contentType}`;
    let validate = this.compiled.get(key);
    if (!validate) this.compiled.set(key, (validate = this.ajv.compile(schema!)));
    expect(validate(answer.body) ? [] : validate.errors, `${key}: ${JSON.stringify(answer.body)}`).toEqual([]);
    this.checked.add(`${operation.operationId} ${answer.status}`);
  }
}

describe.each(testDialects)('the admin API on %s', (dialect) => {
  let sink: SmtpSink;
  let server: TestPortico;
  let acme: Workspace;
  let globex: Workspace;
  let acmeKey: string;
  let globexKey: string;
  let openApi: OpenApiChecker;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect, smtpUrl: sink.url });
    acme = await server.createWorkspace('Acme');
    globex = await server.createWorkspace('Globex');
    acmeKey = await newKey(acme);
    globexKey = await newKey(globex);
    const document = await server.agent(acme).get('/api/v1/openapi.json');
    expect(document.status).toBe(200);
    openApi = await OpenApiChecker.load(document.json());
  });

  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  async function newKey(workspace: Workspace, name?: string): Promise<string> {
    const { key } = await createApiKey(server.portico.context.db, server.clock, workspace, { name });
    issuedSecrets.add(key);
    return key;
  }

  /** A request as a script sends it: JSON, a Bearer key, no cookies or Origin unless given. */
  async function api<T = Json>(
    workspace: Workspace,
    method: string,
    path: string,
    options: { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer<T>> {
    const key = options.key === undefined ? (workspace === globex ? globexKey : acmeKey) : options.key;
    const headers: Record<string, string> = { ...(key ? { authorization: `Bearer ${key}` } : {}), ...options.headers };
    let body = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await server.agent(workspace).request(path, { method, headers, body });
    expect(response.body, 'never a stack trace').not.toMatch(/\bat \S+ \(|\.ts:\d+/);
    expect(response.status, `${method} ${path} answered ${response.body}`).toBeLessThan(500);
    const contentType = String(response.headers['content-type']);
    if (response.status >= 400) expect(contentType).toMatch(/^application\/problem\+json/);
    else expect(contentType).toMatch(/^application\/json/);
    const parsed = response.body === '' ? null : (JSON.parse(response.body) as T);
    openApi?.check(method, path, { status: response.status, headers: response.headers, body: parsed });
    return { status: response.status, headers: response.headers, body: parsed as T };
  }

  function expectProblem(answer: ApiAnswer<unknown>, status: number, code: string): Problem {
    const problem = answer.body as Problem;
    expect(answer.status).toBe(status);
    expect(problem).toMatchObject({ status, code, type: `urn:portico:error:${code}` });
    expect(problem.title.length).toBeGreaterThan(0);
    expect(problem.detail.length).toBeGreaterThan(0);
    return problem;
  }

  async function addClient(email: string, name = '', workspace = acme, key?: string): Promise<ClientJson> {
    const added = await api<ClientJson>(workspace, 'POST', '/api/v1/clients', { key, body: { email, name } });
    expect(added.status).toBe(201);
    return added.body;
  }

  /** Signs `email` in through the magic-link door in a fresh browser; the agent, signed in. */
  async function signIn(workspace: Workspace, email: string) {
    const browser = server.agent(workspace);
    const before = sink.mailsTo(email).length;
    expect((await browser.post('/magic-login', { email })).status).toBe(200);
    const mails = await sink.waitForMails(email, before + 1);
    const token = tokenFromLink(linkFromMail(mails[mails.length - 1]!, workspace.url));
    expect((await browser.post('/magic-login/verify', { token })).status).toBe(303);
    expect((await browser.get('/api/me')).status).toBe(200);
    return browser;
  }

  /** Waits until the outbox holds nothing more for the workspace: every mail queued so far is sent or dropped. */
  async function waitForEmptyOutbox(workspace: Workspace) {
    await vi.waitFor(async () => {
      const left = await server.portico.context.db.selectFrom('outbox').select('id').where('workspace_id', '=', workspace.id).execute();
      expect(left).toEqual([]);
    });
  }

  describe('the OpenAPI document', () => {
    it('is served without a key, names every route of the contract, and requires a Bearer key on each', async () => {
      const answer = await server.agent(acme).get('/api/v1/openapi.json');
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      const document = answer.json<{ openapi: string; servers: { url: string }[]; paths: Record<string, Record<string, { security?: unknown }>>; security: unknown; components: { securitySchemes: Json; schemas: Json } }>();
      expect(document.openapi).toBe('3.1.0');
      expect(document.servers).toEqual([{ url: acme.url, description: 'Acme' }]);
      const routes = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
      expect(routes.sort()).toEqual(
        [
          'GET /api/v1/clients',
          'POST /api/v1/clients',
          'GET /api/v1/clients/{id}',
          'PATCH /api/v1/clients/{id}',
          'POST /api/v1/clients/{id}/disable',
          'POST /api/v1/clients/{id}/enable',
          'POST /api/v1/clients/{id}/sign-in-link',
          'DELETE /api/v1/clients/{id}/sessions',
          'POST /api/v1/invitations',
          'GET /api/v1/events',
        ].sort(),
      );
      expect(document.security).toEqual([{ apiKey: [] }]);
      expect(document.components.securitySchemes).toMatchObject({ apiKey: { type: 'http', scheme: 'bearer' } });
      expect(Object.keys(document.components.schemas)).toEqual(expect.arrayContaining(['Client', 'Event', 'Problem']));
      // Each workspace's copy names its own address.
      expect((await server.agent(globex).get('/api/v1/openapi.json')).json<{ servers: unknown }>().servers).toEqual([{ url: globex.url, description: 'Globex' }]);
    });

    it('lists every error code of the registry, and docs/errors.md holds the new ones (errors.test.ts checks they agree)', async () => {
      const schemas = (openApi.document.components as { schemas: Record<string, { properties: { code: { enum: string[] } } }> }).schemas;
      expect(schemas.Problem!.properties.code.enum).toEqual(
        expect.arrayContaining(['API_KEY_INVALID', 'REQUEST_INVALID', 'IDEMPOTENCY_KEY_REUSED', 'CLIENT_EMAIL_LIMITED', 'UNSUPPORTED_MEDIA_TYPE', 'CLIENT_NOT_FOUND']),
      );
    });
  });

  describe('keys', () => {
    it('refuses a missing, malformed, wrong, revoked or other workspace’s key with 401 problem details', async () => {
      const revoked = await newKey(acme, 'old');
      const revokedId = (await server.portico.context.db.selectFrom('api_keys').select('id').where('name', '=', 'old').executeTakeFirstOrThrow()).id;
      expect((await api(acme, 'GET', '/api/v1/clients', { key: revoked })).status).toBe(200);
      await revokeApiKey(server.portico.context.db, server.clock, acme, revokedId);

      const wrong = `pk_${'A'.repeat(43)}`;
      for (const [label, key] of [
        ['missing', null],
        ['malformed', 'not-a-key'],
        ['wrong', wrong],
        ['revoked', revoked],
        ['another workspace’s', globexKey],
      ] as const) {
        const answer = await api(acme, 'GET', '/api/v1/clients', { key });
        expectProblem(answer, 401, 'API_KEY_INVALID');
        expect(answer.headers['www-authenticate'], label).toMatch(/^Bearer /);
      }
      // The same refusals on a route that writes: nothing is added.
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { key: globexKey, body: { email: 'sneaky@example.com' } }), 401, 'API_KEY_INVALID');
      expectProblem(await api(acme, 'POST', '/api/v1/invitations', { key: revoked, body: { email: 'sneaky@example.com' } }), 401, 'API_KEY_INVALID');
      expect((await api<{ clients: ClientJson[] }>(acme, 'GET', '/api/v1/clients?q=sneaky')).body.clients).toEqual([]);
      // Other schemes and a key in the query are not keys.
      expectProblem(await api(acme, 'GET', `/api/v1/clients?access_token=${acmeKey}`, { key: null }), 401, 'API_KEY_INVALID');
      expectProblem(await api(acme, 'GET', '/api/v1/clients', { key: null, headers: { authorization: `Basic ${Buffer.from(`x:${acmeKey}`).toString('base64')}` } }), 401, 'API_KEY_INVALID');
    });

    it('works on its own workspace only: another workspace’s client is not found through it', async () => {
      const theirs = await addClient('theirs@example.com', 'Theirs', globex);
      for (const [method, path] of [
        ['GET', `/api/v1/clients/${theirs.id}`],
        ['PATCH', `/api/v1/clients/${theirs.id}`],
        ['POST', `/api/v1/clients/${theirs.id}/disable`],
        ['POST', `/api/v1/clients/${theirs.id}/enable`],
        ['POST', `/api/v1/clients/${theirs.id}/sign-in-link`],
        ['DELETE', `/api/v1/clients/${theirs.id}/sessions`],
      ] as const) {
        expectProblem(await api(acme, method, path, method === 'PATCH' ? { body: { name: 'Hijacked' } } : {}), 404, 'CLIENT_NOT_FOUND');
      }
      const still = await api<ClientJson>(globex, 'GET', `/api/v1/clients/${theirs.id}`);
      expect(still.body).toEqual({ ...theirs, disabled: false });
      expect((await api<{ clients: ClientJson[] }>(acme, 'GET', '/api/v1/clients?q=theirs')).body.clients).toEqual([]);
      expect(sink.mailsTo('theirs@example.com')).toEqual([]);
    });

    it('is never replaced by a session cookie, and needs no Origin: a signed-in browser without a key gets 401', async () => {
      await addClient('browser@example.com');
      const browser = await signIn(acme, 'browser@example.com');
      const answer = await browser.request('/api/v1/clients', { method: 'GET' });
      expect(answer.status).toBe(401);
      expect(answer.json<Problem>().code).toBe('API_KEY_INVALID');
      const posted = await browser.post('/api/v1/clients', { email: 'csrf@example.com' });
      expect(posted.status).toBe(401);
      // A script on another origin with the key is no forged form: the origin check for forms leaves it alone.
      const crossOrigin = await api(acme, 'POST', '/api/v1/clients', { body: { email: 'script@example.com' }, headers: { origin: 'https://crm.example', 'sec-fetch-site': 'cross-site' } });
      expect(crossOrigin.status).toBe(201);
    });

    it('answers a host no workspace owns with a 404 problem', async () => {
      const stranger = new HttpAgent(server.portico.address, 'http://nobody.test:1');
      const answer = await stranger.request('/api/v1/clients', { headers: { authorization: `Bearer ${acmeKey}` } });
      expect(answer.status).toBe(404);
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(answer.json<Problem>()).toMatchObject({ code: 'WORKSPACE_NOT_FOUND', status: 404 });
    });
  });

  describe('clients', () => {
    it('adds, reads, updates, and refuses a taken email or bad fields naming them', async () => {
      const added = await api<ClientJson>(acme, 'POST', '/api/v1/clients', { body: { email: 'Grace@Example.com', name: ' Grace Hopper ' } });
      expect(added.status).toBe(201);
      expect(added.body).toEqual({ id: expect.any(String), email: 'Grace@Example.com', name: 'Grace Hopper', hasPassword: false, disabled: false });
      expect(added.headers.location).toBe(`/api/v1/clients/${added.body.id}`);
      expect((await api(acme, 'GET', `/api/v1/clients/${added.body.id}`)).body).toEqual(added.body);

      expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: 'grace@EXAMPLE.com' } }), 409, 'CLIENT_EXISTS');
      const badEmail = expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: 'not-an-email' } }), 400, 'CLIENT_EMAIL_INVALID');
      expect(badEmail.detail).toContain('not-an-email');
      const missing = expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { name: 'No Email' } }), 400, 'REQUEST_INVALID');
      expect(missing.errors).toEqual([{ in: 'body', field: 'email', detail: expect.any(String) }]);
      expect(missing.detail).toContain('email');
      const typo = expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: 'typo@example.com', nmae: 'Typo' } }), 400, 'REQUEST_INVALID');
      expect(typo.errors).toEqual([{ in: 'body', field: 'nmae', detail: 'is not a field of this request' }]);
      const wrongType = expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: { address: 'a@example.com' } } }), 400, 'REQUEST_INVALID');
      expect(wrongType.errors?.[0]?.field).toBe('email');
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: 'long@example.com', name: 'x'.repeat(201) } }), 400, 'REQUEST_INVALID');
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: 'ctl@example.com', name: 'a\u0007b' } }), 400, 'CLIENT_NAME_INVALID');
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { rawBody: '{"email": ', headers: { 'content-type': 'application/json' } }), 400, 'REQUEST_INVALID');
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { rawBody: 'email=form@example.com', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { rawBody: '{"__proto__": {"admin": true}, "email": "proto@example.com"}', headers: { 'content-type': 'application/json' } }), 400, 'REQUEST_INVALID');
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { rawBody: '[]', headers: { 'content-type': 'application/json' } }), 400, 'REQUEST_INVALID');
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: 'big@example.com', name: 'x'.repeat(20_000) } }), 413, 'BODY_TOO_LARGE');

      const renamed = await api<ClientJson>(acme, 'PATCH', `/api/v1/clients/${added.body.id}`, { body: { name: 'Rear Admiral Hopper' } });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toEqual({ ...added.body, name: 'Rear Admiral Hopper' });
      expectProblem(await api(acme, 'PATCH', `/api/v1/clients/${added.body.id}`, { body: {} }), 400, 'REQUEST_INVALID');
      await addClient('taken@example.com');
      expectProblem(await api(acme, 'PATCH', `/api/v1/clients/${added.body.id}`, { body: { email: 'TAKEN@example.com' } }), 409, 'CLIENT_EXISTS');
      expectProblem(await api(acme, 'PATCH', '/api/v1/clients/no-such-id', { body: { name: 'Nobody' } }), 404, 'CLIENT_NOT_FOUND');
      expectProblem(await api(acme, 'GET', '/api/v1/clients/no-such-id'), 404, 'CLIENT_NOT_FOUND');
      expectProblem(await api(acme, 'GET', '/api/v1/nothing-here'), 404, 'NOT_FOUND');
      expectProblem(await api(acme, 'GET', '/api/v1'), 404, 'NOT_FOUND');
    });

    // A name that reorders or breaks the text could pass for another in pages, mail and CLI output (CVE-2021-42574, "Trojan Source").
    it('refuses a name holding a text-direction override or line separator, naming the field and the character; keeps accented and right-to-left names', async () => {
      const override = expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: 'rlo@example.com', name: 'Grace\u202Eelcaro' } }), 400, 'CLIENT_NAME_INVALID');
      expect(override.detail).toMatch(/client name .*U\+202E/);
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: 'isolate@example.com', name: '\u2067Grace' } }), 400, 'CLIENT_NAME_INVALID');
      expectProblem(await api(acme, 'POST', '/api/v1/clients', { body: { email: 'c1@example.com', name: 'Grace\u009b31m' } }), 400, 'CLIENT_NAME_INVALID');
      expect((await api<{ clients: ClientJson[] }>(acme, 'GET', '/api/v1/clients?q=grace')).body.clients.map((client) => client.email)).not.toContain('rlo@example.com');

      const ordinary = await addClient('zoe@example.com', 'Zoë Müller, סטודיו אקמה');
      expect(ordinary.name).toBe('Zoë Müller, סטודיו אקמה');
      const separator = expectProblem(await api(acme, 'PATCH', `/api/v1/clients/${ordinary.id}`, { body: { name: 'Zoë\u2028Bcc: x' } }), 400, 'CLIENT_NAME_INVALID');
      expect(separator.detail).toMatch(/client name .*U\+2028/);
      const arabic = await api<ClientJson>(acme, 'PATCH', `/api/v1/clients/${ordinary.id}`, { body: { name: 'زوي مولر' } });
      expect(arabic.body).toEqual({ ...ordinary, name: 'زوي مولر' });
    });

    it('a new email ends the links mailed to the old address; the client signs in at the new one', async () => {
      const moving = await addClient('old-address@example.com', 'Moving');
      const browser = server.agent(acme);
      await browser.post('/magic-login', { email: 'old-address@example.com' });
      const [mail] = await sink.waitForMails('old-address@example.com');
      const oldToken = tokenFromLink(linkFromMail(mail!, acme.url));

      const moved = await api<ClientJson>(acme, 'PATCH', `/api/v1/clients/${moving.id}`, { body: { email: 'new-address@example.com' } });
      expect(moved.body).toEqual({ ...moving, email: 'new-address@example.com' });
      const refused = await browser.post('/magic-login/verify', { token: oldToken });
      expect(refused.status).toBe(410);
      expect(refused.body).toContain('email address of this account changed');
      await signIn(acme, 'new-address@example.com');
    });

    it('lists by email, a page at a time, with a search in any case; every client once across pages', async () => {
      const paging = await server.createWorkspace('Paging');
      const key = await newKey(paging);
      const emails = Array.from({ length: 7 }, (_, index) => `p${index}@paging.example`);
      for (const email of emails.reverse()) await addClient(email, email.startsWith('p3') ? 'Percy_Three 100%' : '', paging, key);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? '?limit=3' : `?limit=3&cursor=${cursor}`;
        const page: ApiAnswer<{ clients: ClientJson[]; nextCursor: string | null }> = await api(paging, 'GET', `/api/v1/clients${query}`, { key });
        expect(page.status).toBe(200);
        seen.push(...page.body.clients.map((client) => client.email));
        cursor = page.body.nextCursor;
        pages += 1;
      } while (cursor !== null);
      expect(pages).toBe(3);
      expect(seen).toEqual([...emails].sort());

      const search = async (q: string) => (await api<{ clients: ClientJson[] }>(paging, 'GET', `/api/v1/clients?q=${encodeURIComponent(q)}`, { key })).body.clients.map((c) => c.email);
      expect(await search('P5@PAGING')).toEqual(['p5@paging.example']);
      expect(await search('percy_three')).toEqual(['p3@paging.example']);
      expect(await search('100%')).toEqual(['p3@paging.example']);
      // LIKE's wildcards typed by the caller match only themselves.
      expect(await search('_')).toEqual(['p3@paging.example']);
      expect(await search('%')).toEqual(['p3@paging.example']);
      expect(await search('nobody')).toEqual([]);

      for (const query of ['?limit=0', '?limit=1001', '?limit=ten', '?cursor=bm9wZQ', '?cursor=%20', '?unknown=1']) {
        const problem = expectProblem(await api(paging, 'GET', `/api/v1/clients${query}`, { key }), 400, 'REQUEST_INVALID');
        expect(problem.errors?.[0]?.in).toBe('query');
        expect(['limit', 'cursor', 'unknown']).toContain(problem.errors?.[0]?.field);
      }
      // An events cursor is not a clients cursor.
      const events = await api<{ nextCursor: string | null }>(paging, 'GET', '/api/v1/events?limit=1', { key });
      expectProblem(await api(paging, 'GET', `/api/v1/clients?cursor=${events.body.nextCursor}`, { key }), 400, 'REQUEST_INVALID');
    });

    it('disable ends the client’s sessions at once and refuses sign-in; enable lets them back', async () => {
      const ada = await addClient('ada@example.com', 'Ada');
      const first = await signIn(acme, 'ada@example.com');
      const second = await signIn(acme, 'ada@example.com');

      const disabled = await api<ClientJson>(acme, 'POST', `/api/v1/clients/${ada.id}/disable`);
      expect(disabled.status).toBe(200);
      expect(disabled.body).toEqual({ ...ada, disabled: true });
      expect((await first.get('/api/me')).status).toBe(401);
      expect((await second.get('/api/me')).status).toBe(401);
      // Disabling again is still a success; a disabled client gets no link from the API.
      expect((await api(acme, 'POST', `/api/v1/clients/${ada.id}/disable`)).status).toBe(200);
      expectProblem(await api(acme, 'POST', `/api/v1/clients/${ada.id}/sign-in-link`), 409, 'CLIENT_DISABLED');
      expectProblem(await api(acme, 'POST', '/api/v1/invitations', { body: { email: 'ada@example.com' } }), 409, 'CLIENT_DISABLED');

      const enabled = await api<ClientJson>(acme, 'POST', `/api/v1/clients/${ada.id}/enable`);
      expect(enabled.body).toEqual({ ...ada, disabled: false });
      expect((await first.get('/api/me')).status).toBe(401); // what disabling ended stays ended
      await signIn(acme, 'ada@example.com');
      expect((await api(acme, 'POST', `/api/v1/clients/${ada.id}/enable`)).status).toBe(200);

      const types = (await api<{ events: { type: string; email: string }[] }>(acme, 'GET', '/api/v1/events?limit=20')).body.events.filter((e) => e.email === 'ada@example.com').map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(['client.disabled', 'client.enabled']));
    });

    it('DELETE sessions signs the client out everywhere and says how many ended', async () => {
      const bob = await addClient('bob@example.com', 'Bob');
      const browsers = [await signIn(acme, 'bob@example.com'), await signIn(acme, 'bob@example.com')];
      const ended = await api(acme, 'DELETE', `/api/v1/clients/${bob.id}/sessions`);
      expect(ended.status).toBe(200);
      expect(ended.body).toEqual({ sessionsEnded: 2 });
      for (const browser of browsers) expect((await browser.get('/api/me')).status).toBe(401);
      expect((await api(acme, 'DELETE', `/api/v1/clients/${bob.id}/sessions`)).body).toEqual({ sessionsEnded: 0 });
      expect((await api<ClientJson>(acme, 'GET', `/api/v1/clients/${bob.id}`)).body.disabled).toBe(false);
      await signIn(acme, 'bob@example.com');
    });
  });

  describe('mail', () => {
    it('sign-in-link mails the client a link that signs in after a confirmation in any browser', async () => {
      const cleo = await addClient('cleo@example.com', 'Cleo');
      const sent = await api<{ client: ClientJson; linkExpiresAt: string }>(acme, 'POST', `/api/v1/clients/${cleo.id}/sign-in-link`);
      expect(sent.status).toBe(202);
      expect(sent.body).toEqual({ client: cleo, linkExpiresAt: expect.any(String) });
      expect(Date.parse(sent.body.linkExpiresAt) - server.clock.now()).toBeGreaterThan(acme.magic_link_ttl_ms - 60_000);
      expect(Date.parse(sent.body.linkExpiresAt) - server.clock.now()).toBeLessThanOrEqual(acme.magic_link_ttl_ms);
      const [mail] = await sink.waitForMails('cleo@example.com');
      expect(mail!.subject).toContain('Acme');
      // No code: a code works only in the browser that asked, and none did.
      expect(mail!.text).not.toMatch(/Your code/);
      const link = linkFromMail(mail!, acme.url);
      const browser = server.agent(acme);
      const page = await browser.get(new URL(link).pathname + new URL(link).search);
      expect(page.status).toBe(200);
      expect(page.body).toContain('cleo@example.com'); // no browser asked: it names the account and waits for a press
      expect((await browser.post('/magic-login/verify', { token: tokenFromLink(link) })).status).toBe(303);
      expect((await browser.get('/api/me')).json()).toMatchObject({ client: { email: 'cleo@example.com' } });
      // An empty JSON body is no body.
      expect((await api(acme, 'POST', `/api/v1/clients/${cleo.id}/sign-in-link`, { rawBody: '', headers: { 'content-type': 'application/json' } })).status).toBe(202);
      expectProblem(await api(acme, 'POST', '/api/v1/clients/nobody/sign-in-link'), 404, 'CLIENT_NOT_FOUND');
    });

    it('invitations add the client when needed and mail a welcome link, as client invite does', async () => {
      const invited = await api<{ client: ClientJson; clientAdded: boolean; linkExpiresAt: string }>(acme, 'POST', '/api/v1/invitations', { body: { email: 'dora@example.com', name: 'Dora' } });
      expect(invited.status).toBe(202);
      expect(invited.body).toEqual({
        client: { id: expect.any(String), email: 'dora@example.com', name: 'Dora', hasPassword: false, disabled: false },
        clientAdded: true,
        linkExpiresAt: expect.any(String),
      });
      expect(Date.parse(invited.body.linkExpiresAt) - server.clock.now()).toBeGreaterThan(7 * 24 * 3600_000 - 60_000);
      const [mail] = await sink.waitForMails('dora@example.com');
      expect(linkFromMail(mail!, acme.url)).toContain('/magic-login/verify?token=');
      const again = await api<{ clientAdded: boolean }>(acme, 'POST', '/api/v1/invitations', { body: { email: 'DORA@example.com' } });
      expect(again.body.clientAdded).toBe(false);
      await sink.waitForMails('dora@example.com', 2);
      expectProblem(await api(acme, 'POST', '/api/v1/invitations', { body: { email: 'bad' } }), 400, 'CLIENT_EMAIL_INVALID');
    });

    it('the per-address limits hold mail back: 429 CLIENT_EMAIL_LIMITED, nothing sent and nothing added', async () => {
      const limited = await startTestPortico({ dialect, smtpUrl: sink.url, clock: new TestClock({ frozen: true }), env: { LIMIT_EMAIL_COOLDOWN: '60s', LIMIT_EMAIL_PER_HOUR: '5' } });
      try {
        const workspace = await limited.createWorkspace('Limited');
        const { key } = await createApiKey(limited.portico.context.db, limited.clock, workspace, {});
        issuedSecrets.add(key);
        const agent = limited.agent(workspace);
        const call = async (method: string, path: string, body?: unknown) => {
          const response = await agent.request(path, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
          const answer = { status: response.status, headers: response.headers, body: JSON.parse(response.body) as unknown };
          openApi.check(method, path, answer);
          return answer;
        };
        const client = (await call('POST', '/api/v1/clients', { email: 'eve@example.com' })).body as ClientJson;
        expect((await call('POST', `/api/v1/clients/${client.id}/sign-in-link`)).status).toBe(202);
        expectProblem(await call('POST', `/api/v1/clients/${client.id}/sign-in-link`), 429, 'CLIENT_EMAIL_LIMITED');
        expectProblem(await call('POST', '/api/v1/invitations', { email: 'eve@example.com' }), 429, 'CLIENT_EMAIL_LIMITED');
        // The door asked for this unknown address a moment ago: the API's invitation waits too, and adds nobody.
        expect((await agent.post('/magic-login', { email: 'fay@example.com' })).status).toBe(200);
        expectProblem(await call('POST', '/api/v1/invitations', { email: 'fay@example.com' }), 429, 'CLIENT_EMAIL_LIMITED');
        expect(((await call('GET', '/api/v1/clients?q=fay')).body as { clients: unknown[] }).clients).toEqual([]);
        limited.clock.advance(61_000);
        expect((await call('POST', `/api/v1/clients/${client.id}/sign-in-link`)).status).toBe(202);
        await sink.waitForMails('eve@example.com', 2);
      } finally {
        await limited.stop({ dropDatabase: true });
      }
    });
  });

  describe('idempotency keys', () => {
    it('the same key and request within 24 hours get the first answer and send no second mail', async () => {
      const gus = await addClient('gus@example.com', 'Gus');
      const headers = { 'idempotency-key': 'crm-7f3a-0001' };
      const first = await api(acme, 'POST', `/api/v1/clients/${gus.id}/sign-in-link`, { headers });
      expect(first.status).toBe(202);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      await sink.waitForMails('gus@example.com');
      server.clock.advance(3600_000);
      const again = await api(acme, 'POST', `/api/v1/clients/${gus.id}/sign-in-link`, { headers });
      expect(again.status).toBe(202);
      expect(again.body).toEqual(first.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
      await waitForEmptyOutbox(acme);
      expect(sink.mailsTo('gus@example.com')).toHaveLength(1);

      // Another request with the key: refused, nothing sent. Another route is another request too.
      const other = await addClient('hal@example.com');
      expectProblem(await api(acme, 'POST', `/api/v1/clients/${other.id}/sign-in-link`, { headers }), 422, 'IDEMPOTENCY_KEY_REUSED');
      expectProblem(await api(acme, 'POST', '/api/v1/invitations', { headers, body: { email: 'hal@example.com' } }), 422, 'IDEMPOTENCY_KEY_REUSED');
      // Another key of the workspace has keys of its own.
      const secondKey = await newKey(acme, 'second integration');
      expect((await api(acme, 'POST', `/api/v1/clients/${other.id}/sign-in-link`, { key: secondKey, headers })).headers['idempotent-replayed']).toBeUndefined();
      await sink.waitForMails('hal@example.com');

      // After 24 hours the key is free again: a new mail.
      server.clock.advance(idempotencyWindowMs);
      const later = await api(acme, 'POST', `/api/v1/clients/${gus.id}/sign-in-link`, { headers });
      expect(later.headers['idempotent-replayed']).toBeUndefined();
      await sink.waitForMails('gus@example.com', 2);
    });

    it('invitations: the same body replays, a different body is 422, and a failed request can be retried with its key', async () => {
      const headers = { 'idempotency-key': 'invite-ivy' };
      const first = await api(acme, 'POST', '/api/v1/invitations', { headers, body: { email: 'ivy@example.com', name: 'Ivy' } });
      expect(first.status).toBe(202);
      // The same fields in another order are the same request.
      const again = await api(acme, 'POST', '/api/v1/invitations', { rawBody: '{"name":"Ivy","email":"ivy@example.com"}', headers: { ...headers, 'content-type': 'application/json' } });
      expect(again.status).toBe(202);
      expect(again.body).toEqual(first.body);
      expectProblem(await api(acme, 'POST', '/api/v1/invitations', { headers, body: { email: 'ivy@example.com', name: 'Ivy Two' } }), 422, 'IDEMPOTENCY_KEY_REUSED');
      await sink.waitForMails('ivy@example.com');
      await waitForEmptyOutbox(acme);
      expect(sink.mailsTo('ivy@example.com')).toHaveLength(1);

      // A refusal stores nothing: the same key works once the cause is gone.
      const retry = { 'idempotency-key': 'invite-jon' };
      const jon = await addClient('jon@example.com');
      await api(acme, 'POST', `/api/v1/clients/${jon.id}/disable`);
      expectProblem(await api(acme, 'POST', '/api/v1/invitations', { headers: retry, body: { email: 'jon@example.com' } }), 409, 'CLIENT_DISABLED');
      await api(acme, 'POST', `/api/v1/clients/${jon.id}/enable`);
      expect((await api(acme, 'POST', '/api/v1/invitations', { headers: retry, body: { email: 'jon@example.com' } })).status).toBe(202);
      await sink.waitForMails('jon@example.com');

      for (const bad of ['', 'x'.repeat(256), 'with space']) {
        const problem = expectProblem(await api(acme, 'POST', '/api/v1/invitations', { headers: { 'idempotency-key': bad }, body: { email: 'kim@example.com' } }), 400, 'REQUEST_INVALID');
        expect(problem.errors?.[0]).toMatchObject({ in: 'header', field: 'Idempotency-Key' });
      }
    });

    it('concurrent requests with one key send one mail and all get the same answer', async () => {
      const lou = await addClient('lou@example.com', 'Lou');
      const headers = { 'idempotency-key': 'burst-1' };
      const answers = await Promise.all(Array.from({ length: 8 }, () => api(acme, 'POST', `/api/v1/clients/${lou.id}/sign-in-link`, { headers })));
      expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(202));
      for (const answer of answers) expect(answer.body).toEqual(answers[0]!.body);
      expect(answers.filter((answer) => answer.headers['idempotent-replayed'] === undefined)).toHaveLength(1);

      const invitations = await Promise.all(Array.from({ length: 8 }, () => api(acme, 'POST', '/api/v1/invitations', { headers: { 'idempotency-key': 'burst-2' }, body: { email: 'mo@example.com' } })));
      expect(invitations.map((answer) => answer.status)).toEqual(Array(8).fill(202));
      await sink.waitForMails('lou@example.com');
      await sink.waitForMails('mo@example.com');
      await waitForEmptyOutbox(acme);
      expect(sink.mailsTo('lou@example.com')).toHaveLength(1);
      expect(sink.mailsTo('mo@example.com')).toHaveLength(1);
    });

    it('holds across two instances sharing the database', async () => {
      const twin = await startTestPortico({ dialect, smtpUrl: sink.url, database: server.database, clock: server.clock });
      try {
        const nia = await addClient('nia@example.com');
        const twinAgent = twin.agent(acme);
        const headers = { authorization: `Bearer ${acmeKey}`, 'idempotency-key': 'twins' };
        const [here, there] = await Promise.all([
          api(acme, 'POST', `/api/v1/clients/${nia.id}/sign-in-link`, { headers: { 'idempotency-key': 'twins' } }),
          twinAgent.request(`/api/v1/clients/${nia.id}/sign-in-link`, { method: 'POST', headers }),
        ]);
        expect(here.status).toBe(202);
        expect(there.status).toBe(202);
        expect(JSON.parse(there.body)).toEqual(here.body);
        await sink.waitForMails('nia@example.com');
        await waitForEmptyOutbox(acme);
        expect(sink.mailsTo('nia@example.com')).toHaveLength(1);
      } finally {
        await twin.stop();
      }
    });
  });

  describe('events', () => {
    it('pages the audit log newest first, without repeats, and only the workspace’s own', async () => {
      const audited = await server.createWorkspace('Audited');
      const key = await newKey(audited);
      for (let index = 0; index < 5; index += 1) {
        server.clock.advance(1000);
        await api(audited, 'POST', '/api/v1/clients', { key, body: { email: `e${index}@audited.example` } });
        await api(audited, 'POST', `/api/v1/invitations`, { key, body: { email: `e${index}@audited.example` } });
      }
      await waitForEmptyOutbox(audited);
      const all: { type: string; email: string | null; at: string }[] = [];
      let cursor: string | null = null;
      do {
        const page: ApiAnswer<{ events: { type: string; email: string | null; at: string }[]; nextCursor: string | null }> = await api(audited, 'GET', `/api/v1/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key });
        expect(page.body.events.length).toBeLessThanOrEqual(2);
        all.push(...page.body.events);
        cursor = page.body.nextCursor;
      } while (cursor !== null);
      const invited = all.filter((event) => event.type === 'client.invited').map((event) => event.email);
      expect(invited).toEqual(['e4@audited.example', 'e3@audited.example', 'e2@audited.example', 'e1@audited.example', 'e0@audited.example']);
      expect(all.map((event) => event.type)).toContain('api_key.created');
      // The pages together are the log in one page: nothing repeated, nothing skipped.
      const whole = await api<{ events: unknown[]; nextCursor: string | null }>(audited, 'GET', '/api/v1/events?limit=1000', { key });
      expect(whole.body.nextCursor).toBeNull();
      expect(whole.body.events).toEqual(all);
      expect(all.every((event) => !event.email || event.email.endsWith('@audited.example'))).toBe(true);
      expectProblem(await api(audited, 'GET', '/api/v1/events?cursor=Yzp4', { key }), 400, 'REQUEST_INVALID');
    });
  });

  describe('rate limit per key', () => {
    it('answers 429 with Retry-After past LIMIT_API_PER_MINUTE, for that key only', async () => {
      // Frozen at a minute's start: the limit counts in fixed one-minute windows.
      const limited = await startTestPortico({ dialect, clock: new TestClock({ frozen: true, atTopOfHour: true }), env: { LIMIT_API_PER_MINUTE: '3' } });
      try {
        const workspace = await limited.createWorkspace('Busy');
        const keys = await Promise.all([0, 1].map(async () => (await createApiKey(limited.portico.context.db, limited.clock, workspace, {})).key));
        keys.forEach((key) => issuedSecrets.add(key));
        const call = (key: string) => limited.agent(workspace).request('/api/v1/clients', { headers: { authorization: `Bearer ${key}` } });
        for (let index = 0; index < 3; index += 1) expect((await call(keys[0]!)).status).toBe(200);
        const refused = await call(keys[0]!);
        expect(refused.status).toBe(429);
        expect(refused.headers['retry-after']).toMatch(/^\d+$/);
        expect(refused.json<Problem>().code).toBe('TOO_MANY_REQUESTS');
        openApi.check('GET', '/api/v1/clients', { status: refused.status, headers: refused.headers, body: refused.json() });
        expect((await call(keys[1]!)).status).toBe(200);
        limited.clock.advance(60_000);
        expect((await call(keys[0]!)).status).toBe(200);
      } finally {
        await limited.stop({ dropDatabase: true });
      }
    });
  });

  it('every route was exercised and checked against the document', () => {
    const operations = new Set([...openApi.checked].map((entry) => entry.split(' ')[0]));
    expect([...operations].sort()).toEqual(
      ['addClient', 'disableClient', 'enableClient', 'endClientSessions', 'getClient', 'inviteClient', 'listClients', 'listEvents', 'sendSignInLink', 'updateClient'].sort(),
    );
  });
});
