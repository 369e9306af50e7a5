#!/usr/bin/env node
// The yardstick on PostgreSQL: the least a Node server can do for Portico's two hot paths on
// PostgreSQL, with no framework, guards or limits, and as few round trips as the work allows
// (one statement each, through named prepared statements), so the benchmark can say how much of
// PostgreSQL's figure is PostgreSQL itself on this machine (issue 6).
//   GET  /ok                  "ok"
//   POST /magic-login         look the client up, then one statement storing the token and an outbox row
//   POST /magic-login/verify  one statement: the conditional UPDATE and the session insert
// Prints its address, then serves until killed. Usage: node bench/yardstick-postgres.mjs <postgres-url> <clients>
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { hash, readForm } from './yardstick-common.mjs';

const [url, clientCount = '1000'] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: url, max: 10 });
await pool.query(`
  create table if not exists clients (id bigserial primary key, email text not null unique);
  create table if not exists tokens (hash text primary key, client_id bigint not null, expires_at bigint not null, used_at bigint);
  create table if not exists outbox (id bigserial primary key, recipient text not null, payload text not null);
  create table if not exists sessions (hash text primary key, client_id bigint not null, created_at bigint not null);
`);
await pool.query(`insert into clients (email) select 'client' || n || '@example.com' from generate_series(0, $1::int - 1) n on conflict do nothing`, [Number(clientCount)]);

const findClient = (email) => pool.query({ name: 'find', text: 'select id, email from clients where email = $1', values: [email] });
async function issue(client) {
  const token = randomBytes(32).toString('base64url');
  await pool.query({
    name: 'issue',
    text: 'with t as (insert into tokens (hash, client_id, expires_at) values ($1, $2, $3)) insert into outbox (recipient, payload) values ($4, $5)',
    values: [hash(token), client.id, Date.now() + 900_000, client.email, JSON.stringify({ link: `http://bench.test/magic-login/verify?token=${token}` })],
  });
  return token;
}

const server = http.createServer(async (request, response) => {
  if (request.url === '/ok') return response.end('ok');
  if (request.method === 'POST' && request.url === '/magic-login') {
    const form = await readForm(request);
    const { rows } = await findClient(String(form.get('email')).toLowerCase());
    if (rows[0]) await issue(rows[0]);
    response.writeHead(200, { 'content-type': 'text/html' });
    return response.end('<p>Check your email</p>');
  }
  if (request.method === 'POST' && request.url === '/magic-login/verify') {
    const form = await readForm(request);
    const now = Date.now();
    const session = randomBytes(32).toString('base64url');
    const { rows } = await pool.query({
      name: 'redeem',
      text: `with used as (update tokens set used_at = $1 where hash = $2 and used_at is null and expires_at > $1 returning client_id)
             insert into sessions (hash, client_id, created_at) select $3, client_id, $1 from used returning client_id`,
      values: [now, hash(String(form.get('token'))), hash(session)],
    });
    if (!rows[0]) {
      response.writeHead(410);
      return response.end('gone');
    }
    response.writeHead(303, { location: '/', 'set-cookie': `session=${session}; HttpOnly; SameSite=Lax; Path=/` });
    return response.end();
  }
  if (request.method === 'POST' && request.url.startsWith('/_bench/tokens')) {
    // Fresh tokens for the redemption run, made outside the measured window, in bulk.
    const count = Number(new URL(request.url, 'http://x').searchParams.get('count'));
    const tokens = Array.from({ length: count }, () => randomBytes(32).toString('base64url'));
    for (let start = 0; start < count; start += 5000) {
      const chunk = tokens.slice(start, start + 5000);
      await pool.query(
        `insert into tokens (hash, client_id, expires_at) select h, (select id from clients order by id limit 1), $2 from unnest($1::text[]) h`,
        [chunk.map(hash), Date.now() + 900_000],
      );
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(JSON.stringify(tokens));
  }
  response.writeHead(404);
  response.end();
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`yardstick listening on http://127.0.0.1:${server.address().port}\n`));
