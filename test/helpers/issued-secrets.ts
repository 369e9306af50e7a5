/**
 * Every secret a test saw Portico issue: link tokens read from mail, session ids and browser
 * secrets from cookies. Each test server checks, when it stops, that none of them is in its logs
 * (issue 5: secrets never leak, checked across the whole behaviour suite at debug level).
 */
export const issuedSecrets = new Set<string>();

export function rememberSecretsInMail(text: string): void {
  for (const match of text.matchAll(/token=([A-Za-z0-9_-]{43})/g)) issuedSecrets.add(match[1]!);
}

export function rememberSecretCookie(name: string, value: string): void {
  if (/portico_(session|browser)$/.test(name) && value.length >= 43) issuedSecrets.add(value);
}

/** The secrets that appear in `logs`, for a test to fail on. */
export function leakedSecrets(logs: string): string[] {
  return [...issuedSecrets].filter((secret) => logs.includes(secret));
}
