/**
 * Every secret a test saw Portico issue: link tokens read from mail, session ids and browser
 * secrets from cookies, and what an app gets through OpenID Connect (codes, tokens, oidc-provider's
 * session cookie). Each test server checks, when it stops, that none of them is in its logs
 * (issue 5: secrets never leak, checked across the whole behaviour suite at debug level).
 */
export const issuedSecrets = new Set<string>();

export function rememberSecretsInMail(text: string): void {
  for (const match of text.matchAll(/token=([A-Za-z0-9_-]{43})/g)) issuedSecrets.add(match[1]!);
  // Sign-in codes as shown and as a form sends them (a bare 10-digit number could match inside a timestamp).
  for (const match of text.matchAll(/code: ([0-9]{5}) ([0-9]{5})/g)) {
    issuedSecrets.add(`${match[1]} ${match[2]}`);
    issuedSecrets.add(`${match[1]}+${match[2]}`);
  }
}

/**
 * Portico's session and browser cookies, and oidc-provider's session cookie (its value is the
 * session's id: 21 characters, 126 random bits). oidc-provider's interaction and resume cookies
 * are not secrets of their own: their value is the interaction's uid, which is in the sign-in
 * step's address (`/oidc/interaction/<uid>`) and so in every request log line; what binds it to
 * the browser is the cookie's signature.
 */
export function rememberSecretCookie(name: string, value: string): void {
  if (/portico_(session|browser)$/.test(name) && value.length >= 43) issuedSecrets.add(value);
  if (name === 'portico_oidc_session' && value.length >= 21) issuedSecrets.add(value);
}

/** The authorization code on an app's redirect URI, as the browser brings it back to the app. */
export function rememberSecretsInRedirect(url: URL): void {
  const code = url.searchParams.get('code');
  if (code) issuedSecrets.add(code);
}

/** What a token endpoint answer hands an app: access, refresh and ID tokens. */
export function rememberTokenResponse(body: unknown): void {
  if (typeof body !== 'object' || body === null) return;
  for (const name of ['access_token', 'refresh_token', 'id_token']) {
    const value = (body as Record<string, unknown>)[name];
    if (typeof value === 'string' && value.length >= 20) issuedSecrets.add(value);
  }
}

/** The secrets that appear in `logs`, for a test to fail on. */
export function leakedSecrets(logs: string): string[] {
  return [...issuedSecrets].filter((secret) => logs.includes(secret));
}
