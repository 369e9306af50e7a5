import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface EchoApp {
  port: number;
  /** Every request the app received, in order. */
  requests: EchoedRequest[];
  /** The requests that came for one address (`Host`), e.g. `portal.test:41234`. */
  requestsFor(host: string): EchoedRequest[];
  stop(): Promise<void>;
}

/**
 * An app with no sign-in of its own, as a reverse proxy protects it with forward authentication:
 * it serves `/files/report.pdf` and answers every other path too, each time with JSON of the
 * headers it received, so a test sees exactly what the proxy passed on. Loopback only.
 */
export async function startEchoApp(): Promise<EchoApp> {
  const requests: EchoedRequest[] = [];
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/';
    const echoed: EchoedRequest = { method: request.method ?? 'GET', path, headers: request.headers };
    requests.push(echoed);
    request.resume();
    request.on('end', () => {
      const body = path === '/files/report.pdf' ? { file: 'report.pdf', ...echoed } : echoed;
      // As a static file server would: cacheable, unless the proxy in front says otherwise.
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=3600' });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    requestsFor: (host) => requests.filter((request) => request.headers.host === host),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
