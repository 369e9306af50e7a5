import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IntlMessageFormat } from 'intl-messageformat';
import { sourceLocale, type Locale } from './locales.js';
import { messageShapeOf, type MessageShape } from './message-shape.js';

/** Catalogues live in `locales/` at the project root, next to `src/` and `dist/` alike (as `views/` does). */
const localesFolder = fileURLToPath(new URL('../../locales/', import.meta.url));

/** A catalogue as its file holds it: message text by key, and `_comments` for translators (never shown). */
export type CatalogueFile = Record<string, string> & { _comments?: Record<string, string> };

/** A message parsed once: its formatter, and the placeholders and tags it uses. */
export interface CompiledMessage extends MessageShape {
  format: IntlMessageFormat;
}

/** A locale's messages, each parsed once. */
export type CompiledCatalogue = ReadonlyMap<string, CompiledMessage>;

/** Reads `locales/<locale>.json` as written, `_comments` and all. */
export function readCatalogueFile(locale: Locale): CatalogueFile {
  return JSON.parse(readFileSync(`${localesFolder}${locale}.json`, 'utf8')) as CatalogueFile;
}

/** The keys of a catalogue's messages (what `_comments` describes is not one). */
export function messageKeys(file: CatalogueFile): string[] {
  return Object.keys(file).filter((key) => !key.startsWith('_'));
}

// Static files shipped with the code, the same for every database and instance: compiled once per
// process and locale, on first use, and kept.
const compiled = new Map<Locale, CompiledCatalogue>();

/**
 * A locale's messages, compiled on first use. A message that does not parse throws here, naming the
 * key: the catalogue test (catalogues.test.ts) catches it before any release does.
 */
export function compiledCatalogue(locale: Locale): CompiledCatalogue {
  let catalogue = compiled.get(locale);
  if (!catalogue) {
    const file = readCatalogueFile(locale);
    const messages = new Map<string, CompiledMessage>();
    for (const key of messageKeys(file)) {
      try {
        const format = new IntlMessageFormat(file[key]!, locale);
        messages.set(key, { format, ...messageShapeOf(format.getAst()) });
      } catch (error) {
        throw new Error(`locales/${locale}.json: the message ${key} does not parse`, { cause: error });
      }
    }
    catalogue = messages;
    compiled.set(locale, catalogue);
  }
  return catalogue;
}

/** The English catalogue, which every other is checked against and which stands in for a missing message. */
export function sourceCatalogue(): CompiledCatalogue {
  return compiledCatalogue(sourceLocale);
}
