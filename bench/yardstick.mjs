#!/usr/bin/env node
// The yardstick: the least a Node server can do for Portico's two hot paths, with no framework,
// no guards and no limits, so the benchmark can say how close Portico comes (issue 6).
//   GET  /ok                  "ok": the ceiling of any Node HTTP server here
//   POST /magic-login         parse the form, look the client up, random token, hash it, insert
//                             the token and an outbox row in one transaction
//   POST /magic-login/verify  parse the form, hash the token, one conditional UPDATE, insert a session
// Prints its address, then serves until killed. Usage: node bench/yardstick.mjs <sqlite-file> <clients>
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import Database from 'better-sqlite3';
import { hash, readForm } from './yardstick-common.mjs';

const [file, clientCount = '1000'] = process.argv.slice(2);
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`
  create table if not exists clients (id text primary key, email text not null unique);
  create table if not exists tokens (hash text primary key, client_id text not null, expires_at integer not null, used_at integer);
  create table if not exists outbox (id text primary key, recipient text not null, payload text not null);
  create table if not exists sessions (hash text primary key, client_id text not null, created_at integer not null);
`);
const insertClient = db.prepare('insert or ignore into clients (id, email) values (?, ?)');
db.transaction(() => {
  for (let index = 0; index < Number(clientCount); index += 1) insertClient.run(randomUUID(), `client${index}@example.com`);
})();

const findClient = db.prepare('select id, email from clients where email = ?');
const insertToken = db.prepare('insert into tokens (hash, client_id, expires_at) values (?, ?, ?)');
const insertOutbox = db.prepare('insert into outbox (id, recipient, payload) values (?, ?, ?)');
const consumeToken = db.prepare('update tokens set used_at = ? where hash = ? and used_at is null and expires_at > ? returning client_id');
const insertSession = db.prepare('insert into sessions (hash, client_id, created_at) values (?, ?, ?)');

const issue = db.transaction((client) => {
  const token = randomBytes(32).toString('base64url');
  insertToken.run(hash(token), client.id, Date.now() + 900_000);
  insertOutbox.run(randomUUID(), client.email, JSON.stringify({ link: `http://bench.test/magic-login/verify?token=${token}` }));
  return token;
});

const server = http.createServer(async (request, response) => {
  if (request.url === '/ok') return response.end('ok');
  if (request.method === 'POST' && request.url === '/magic-login') {
    const form = await readForm(request);
    const client = findClient.get(String(form.get('email')).toLowerCase());
    if (client) issue(client);
    response.writeHead(200, { 'content-type': 'text/html' });
    return response.end('<p>Check your email</p>');
  }
  if (request.method === 'POST' && request.url === '/magic-login/verify') {
    const form = await readForm(request);
    const now = Date.now();
    const used = consumeToken.get(now, hash(String(form.get('token'))), now);
    if (!used) {
      response.writeHead(410);
      return response.end('gone');
    }
    const session = randomBytes(32).toString('base64url');
    insertSession.run(hash(session), used.client_id, now);
    response.writeHead(303, { location: '/', 'set-cookie': `session=${session}; HttpOnly; SameSite=Lax; Path=/` });
    return response.end();
  }
  if (request.method === 'POST' && request.url.startsWith('/_bench/tokens')) {
    // Fresh tokens for the redemption run, made outside the measured window.
    const count = Number(new URL(request.url, 'http://x').searchParams.get('count'));
    const tokens = [];
    for (let index = 0; index < count; index += 1) tokens.push(issue(findClient.get(`client${index % Number(clientCount)}@example.com`)));
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(JSON.stringify(tokens));
  }
  response.writeHead(404);
  response.end();
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`yardstick listening on http://127.0.0.1:${server.address().port}\n`));
