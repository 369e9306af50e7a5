/**
 * A name shown on one line (email subjects, page headings, CLI output): trimmed, 1 to 100
 * characters, no line breaks or control characters. The trimmed name, or null when it breaks the rule.
 */
export function readOneLineName(name: string): string | null {
  const trimmed = name.trim();
  // eslint-disable-next-line no-control-regex
  if (trimmed.length < 1 || trimmed.length > 100 || /[\x00-\x1f\x7f]/.test(trimmed)) return null;
  return trimmed;
}
