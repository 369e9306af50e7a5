// What both yardsticks (SQLite and PostgreSQL) do alike: read a form body, hash a token.
import { createHash } from 'node:crypto';

/** SHA-256 of a token, as stored. */
export const hash = (value) => createHash('sha256').update(value).digest('base64url');

/** The urlencoded body of a request. */
export function readForm(request) {
  return new Promise((resolve) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => resolve(new URLSearchParams(body)));
  });
}
