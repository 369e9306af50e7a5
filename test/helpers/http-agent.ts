import http from 'node:http';
import { rememberSecretCookie } from './issued-secrets.js';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = unknown>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as application/x-www-form-urlencoded; arrays repeat the field. */
  form?: Record<string, string | string[]>;
  body?: string;
}

/**
 * A client over real HTTP on loopback that addresses a workspace by its `Host` header, as a browser
 * on that address would, and keeps cookies like one (per agent).
 */
export class HttpAgent {
  readonly cookies = new Map<string, string>();

  /**
   * @param serverAddress where the server listens, e.g. `http://127.0.0.1:41234`
   * @param workspaceUrl the workspace's own origin, e.g. `http://acme.test:41234`: gives `Host` and, for POSTs, `Origin`
   */
  constructor(
    readonly serverAddress: string,
    readonly workspaceUrl: string,
  ) {}

  get host(): string {
    return new URL(this.workspaceUrl).host;
  }

  async get(path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request(path, { ...options, method: 'GET' });
  }

  /** A form POST, sent like a browser on the workspace's own page sends it (same-origin). */
  async post(path: string, form: Record<string, string | string[]>, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.request(path, {
      ...options,
      method: 'POST',
      form,
      headers: { origin: this.workspaceUrl, 'sec-fetch-site': 'same-origin', ...options.headers },
    });
  }

  async request(path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const target = new URL(path, this.serverAddress);
    const headers: Record<string, string> = { host: this.host, 'user-agent': 'Portico behaviour tests', ...options.headers };
    let payload: string | undefined = options.body;
    if (options.form) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(options.form)) {
        for (const item of Array.isArray(value) ? value : [value]) params.append(key, item);
      }
      payload = params.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
    if (this.cookies.size > 0 && !Object.keys(headers).some((name) => name.toLowerCase() === 'cookie')) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    const response = await new Promise<HttpResponse>((resolve, reject) => {
      const outgoing = http.request(target, { method: options.method ?? 'GET', headers, agent: false }, (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body, json: () => JSON.parse(body) });
        });
        incoming.on('error', reject);
      });
      outgoing.on('error', reject);
      if (payload !== undefined) outgoing.write(payload);
      outgoing.end();
    });
    this.keepCookies(response.headers['set-cookie'] ?? []);
    return response;
  }

  private keepCookies(setCookies: string[]): void {
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';');
      const separator = pair!.indexOf('=');
      const name = pair!.slice(0, separator).trim();
      const value = pair!.slice(separator + 1).trim();
      const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute) || /^\s*expires=Thu, 01 Jan 1970/i.test(attribute));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
      rememberSecretCookie(name, value);
    }
  }
}
