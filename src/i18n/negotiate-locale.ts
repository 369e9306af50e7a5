import Negotiator from 'negotiator';
import { isShippedLocale, shippedLocales, sourceLocale, type Locale } from './locales.js';

/** Shipped locales by their primary language: `de-AT` finds `de`, `pt` and `pt-PT` find `pt-BR`. */
const shippedByLanguage = new Map<string, Locale>(shippedLocales.map((locale) => [locale.split('-')[0]!.toLowerCase(), locale]));
const shippedByTag = new Map<string, Locale>(shippedLocales.map((locale) => [locale.toLowerCase(), locale]));

/**
 * The language of a page: the first of the browser's `Accept-Language` (by quality, as negotiator
 * reads RFC 9110 §12.5.4) that Portico ships, matched by its whole tag, else by its language alone;
 * with none shipped (or no header), the workspace's own. `*` names no language, so it gets the
 * workspace's too.
 */
export function negotiateLocale(acceptLanguage: string | string[] | undefined, workspaceLocale: string | undefined): Locale {
  const header = Array.isArray(acceptLanguage) ? acceptLanguage.join(',') : acceptLanguage;
  if (header) {
    for (const requested of new Negotiator({ headers: { 'accept-language': header } }).languages()) {
      // `*` ranked above every shipped language the browser names: any language will do, so the
      // workspace's (RFC 4647 §3.3.1: `de;q=0.5, *` prefers anything to German).
      if (requested === '*') break;
      const match = matchShippedLocale(requested);
      if (match) return match;
    }
  }
  return readLocale(workspaceLocale);
}

/** The shipped locale a language tag names, by its whole tag, else by its language alone, in any case (`de-AT`, `PT-br`); else null. */
export function matchShippedLocale(tag: string): Locale | null {
  const lower = tag.trim().toLowerCase();
  return shippedByTag.get(lower) ?? shippedByLanguage.get(lower.split('-')[0]!) ?? null;
}

/** A stored locale (a workspace's, a client's, a queued mail's) as a shipped one; anything else is English. */
export function readLocale(value: unknown): Locale {
  return typeof value === 'string' && isShippedLocale(value) ? value : sourceLocale;
}
