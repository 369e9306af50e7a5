import { hash, randomFillSync, timingSafeEqual } from 'node:crypto';

// Random bytes are drawn from the system's CSPRNG 4 KiB at a time and each byte is handed out once,
// as Node itself does for randomUUID(): a call to the CSPRNG has a fixed cost (about 7 µs on the
// bench machine, whether it fills 32 bytes or 4,096), and a redemption draws two tokens.
const randomPool = Buffer.alloc(4096);
let randomPoolOffset = randomPool.length;

function takeRandomBytes(count: number): Buffer {
  if (randomPoolOffset + count > randomPool.length) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const bytes = randomPool.subarray(randomPoolOffset, randomPoolOffset + count);
  randomPoolOffset += count;
  return bytes;
}

/** 32 random bytes (256 bits), base64url: a sign-in link, session id or browser binding secret. */
export function generateSecretToken(): string {
  return takeRandomBytes(32).toString('base64url');
}

/**
 * SHA-256 of a token, base64url. A plain fast hash is right here: the token carries 256 bits of
 * randomness, so there is nothing to brute-force, and a database leak yields no usable link.
 * Node's one-shot `hash` (not a `Hash` object, which costs about three times as much): every
 * signed-in request and every app's token hashes one.
 */
export function hashSecretToken(token: string): string {
  return hash('sha256', token, 'base64url');
}

/** Compares two strings without leaking where they differ through timing. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = hash('sha256', a, 'buffer');
  const right = hash('sha256', b, 'buffer');
  // Hashing first makes the lengths equal, so timingSafeEqual never throws or leaks the length.
  return timingSafeEqual(left, right) && a === b;
}

/** A short random value for a CSP nonce. */
export function generateNonce(): string {
  return takeRandomBytes(16).toString('base64');
}

/** Shape of a token we issued: 43 base64url characters. Anything else is rejected before any lookup. */
export function looksLikeSecretToken(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value);
}
