// The app behind the reverse proxies in npm run bench (issue 16): no sign-in of its own, as the
// apps forward authentication is for. It answers "ok" to every path, and at /whoami who the proxy
// says is signed in (what Portico's answer put in the X-Portico-* headers), for the bench's check
// that the proxy asks Portico before it measures. Its own process, so that neither it nor the
// bench's load generator slows the other's event loop.
import http from 'node:http';

const server = http.createServer((request, response) => {
  if (request.url === '/whoami') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(JSON.stringify({ email: request.headers['x-portico-client-email'] ?? null, workspace: request.headers['x-portico-workspace'] ?? null }));
  }
  response.end('ok');
});
// Longer than the proxies keep idle connections to it (nginx 60 s, Caddy 2 min): a proxy never
// reuses a connection the app is closing, which would answer 502.
server.keepAliveTimeout = 130_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`app listening on http://127.0.0.1:${server.address().port}\n`));
