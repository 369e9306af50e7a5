import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { hostOf, resolveWebhookHost } from './webhook-address.js';

/** What one attempt came to: an answer's status, or the reason there was none. */
export type WebhookAttemptResult = { statusCode: number; error: null } | { statusCode: null; error: string };

export interface WebhookMessage {
  url: string;
  secret: string;
  eventId: string;
  payload: string;
}

/** How much of an answer is read (and thrown away): a receiver's body is of no use to Portico. */
const maxAnswerBytes = 64 * 1024;

/**
 * Signs the message as the Standard Webhooks specification says, with its library
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`), and POSTs it. The host is resolved and
 * each address checked first, and the connection goes to a checked address (a name that resolves
 * elsewhere a moment later, DNS rebinding, changes nothing). Redirects are not followed: a 3xx is
 * a failed attempt like any other non-2xx. The whole attempt ends after `timeoutMs`.
 */
export async function sendWebhook(message: WebhookMessage, options: { timeoutMs: number; allowPrivate: boolean }): Promise<WebhookAttemptResult> {
  const url = new URL(message.url);
  const resolved = await resolveWebhookHost(hostOf(url), options.allowPrivate);
  if (!resolved.ok) return { statusCode: null, error: `refused: ${resolved.reason}` };
  const checked = resolved.addresses;
  const pinnedLookup: LookupFunction = (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all) (callback as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(null, checked);
    else callback(null, checked[0]!.address, checked[0]!.family);
  };
  // Signed at the wall clock's time, not an injected clock's: receivers compare it with theirs to refuse replays.
  const sentAt = new Date();
  const signature = new Webhook(message.secret).sign(message.eventId, sentAt, message.payload);
  const timestamp = String(Math.floor(sentAt.getTime() / 1000));
  const body = Buffer.from(message.payload, 'utf8');
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise<WebhookAttemptResult>((resolve) => {
    let settled = false;
    const settle = (result: WebhookAttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const outgoing = request(url, {
      method: 'POST',
      lookup: pinnedLookup,
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': body.length,
        'user-agent': 'Portico-Webhooks/1',
        'webhook-id': message.eventId,
        'webhook-timestamp': timestamp,
        'webhook-signature': signature,
      },
    });
    const timer = setTimeout(() => {
      outgoing.destroy();
      settle({ statusCode: null, error: `no answer within ${Math.round(options.timeoutMs / 1000)} s` });
    }, options.timeoutMs);
    outgoing.on('error', (error: NodeJS.ErrnoException) => settle({ statusCode: null, error: error.code ? `${error.code}: ${error.message}` : error.message }));
    outgoing.on('response', (answer) => {
      let received = 0;
      answer.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxAnswerBytes) answer.destroy();
      });
      const done = () => settle({ statusCode: answer.statusCode ?? 0, error: null });
      answer.on('end', done);
      answer.on('close', done);
      answer.on('error', done);
    });
    outgoing.end(body);
  });
}
