const slugPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** True for 1–63 lower-case letters, digits and dashes, starting with a letter or digit. */
export function isValidSlug(slug: string): boolean {
  return slugPattern.test(slug);
}

// Letters that Unicode decomposition leaves whole, spelled out as people write them in ASCII.
const letterSpellings: Record<string, string> = { æ: 'ae', ø: 'o', œ: 'oe', ł: 'l', ß: 'ss', đ: 'd', þ: 'th', ð: 'd' };

/** A slug made from a workspace name: "Acme Design Studio" → "acme-design-studio". */
export function slugFromName(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[æøœłßđþð]/g, (letter) => letterSpellings[letter] ?? letter)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return slug || 'workspace';
}
