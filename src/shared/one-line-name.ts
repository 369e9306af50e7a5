/**
 * Characters no name may hold, whatever else its rules (workspace, client, app, API key and
 * sender names all come through here), since a name is shown in pages, mail and CLI output:
 * - C0 and C1 control characters and DEL: a line break starts a mail header or a CLI line of its
 *   own, and an escape sequence drives a terminal;
 * - U+2028 and U+2029, the line and paragraph separators: line breaks by another name;
 * - the bidirectional embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069: they
 *   reorder the text after them, so a name can read as another ("Acme\u202Eevil" shows as
 *   "Acmelive") or drag the words beside it along (CVE-2021-42574, "Trojan Source").
 * Letters of right-to-left scripts are not among them: Arabic and Hebrew order themselves, and
 * so do accents, CJK and emoji (joined by U+200D, which stays allowed).
 */
export const refusedNameCharacter = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;

/** Why `name` cannot be a name because of a character in it, as a clause after "the name", or null when every character may stand in one. */
export function nameCharacterProblem(name: string): string | null {
  const character = refusedNameCharacter.exec(name)?.[0];
  if (character === undefined) return null;
  const codePoint = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  if (/[\n\v\f\r\u0085\u2028\u2029]/.test(character)) return `holds a line break (${codePoint}); a name is one line`;
  if (/[\u202A-\u202E\u2066-\u2069]/.test(character)) {
    return `holds ${codePoint}, which changes the direction of the text after it and can make a name read as another; remove it`;
  }
  return `holds the control character ${codePoint}; remove it`;
}

export type OneLineNameReading = { ok: true; name: string } | { ok: false; problem: string };

/**
 * A name shown on one line (email subjects, page headings, CLI output): trimmed, 1 to 100
 * characters, none of them refused (`refusedNameCharacter`). The trimmed name, or the problem as a
 * clause after "the name".
 */
export function readOneLineName(name: string): OneLineNameReading {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > 100) return { ok: false, problem: 'is not 1 to 100 characters long' };
  const problem = nameCharacterProblem(trimmed);
  return problem === null ? { ok: true, name: trimmed } : { ok: false, problem };
}
