import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IntlMessageFormat } from 'intl-messageformat';
import { describe, expect, it } from 'vitest';
import { compiledCatalogue, messageKeys, readCatalogueFile } from './catalogues.js';
import { shippedLocales, sourceLocale } from './locales.js';
import { messageShapeOf } from './message-shape.js';

const english = readCatalogueFile(sourceLocale);
const englishKeys = messageKeys(english).sort();
const shapeOf = (text: string, locale: string) => messageShapeOf(new IntlMessageFormat(text, locale).getAst());

// issue 18 item 2: every shipped language is complete, parses, and keeps English's placeholders
// and tags, so no page or mail can show a raw key, throw on a missing value, or lose a link.
describe.each(shippedLocales)('locales/%s.json', (locale) => {
  const catalogue = readCatalogueFile(locale);

  it('has exactly the keys of the English catalogue', () => {
    const keys = messageKeys(catalogue).sort();
    expect(englishKeys.filter((key) => !keys.includes(key)), 'missing').toEqual([]);
    expect(keys.filter((key) => !englishKeys.includes(key)), 'not in English').toEqual([]);
  });

  it('holds only text messages, each of which parses', () => {
    const broken: string[] = [];
    for (const key of messageKeys(catalogue)) {
      const text = catalogue[key];
      if (typeof text !== 'string' || text.trim() === '') broken.push(`${key}: not a text`);
      else {
        try {
          new IntlMessageFormat(text, locale);
        } catch (error) {
          broken.push(`${key}: ${(error as Error).message}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("uses the English message's placeholders and tags, no more and no fewer", () => {
    const different: string[] = [];
    for (const key of englishKeys) {
      const text = catalogue[key];
      if (typeof text !== 'string') continue;
      try {
        const expected = shapeOf(english[key]!, sourceLocale);
        const actual = shapeOf(text, locale);
        if (JSON.stringify(actual) !== JSON.stringify(expected)) different.push(`${key}: ${JSON.stringify(actual)}, English has ${JSON.stringify(expected)}`);
      } catch {
        // A message that does not parse is the test above's to report.
      }
    }
    expect(different).toEqual([]);
  });

  it('compiles, as the server loads it', () => {
    expect(compiledCatalogue(locale).size).toBe(englishKeys.length);
  });
});

describe('the English catalogue', () => {
  // intl-messageformat reads tags and values from one object: a tag named like a value would
  // replace the value with the tag's renderer.
  it('never names a tag like a placeholder of the same message', () => {
    const clashes = englishKeys.flatMap((key) => {
      const shape = shapeOf(english[key]!, sourceLocale);
      return shape.tags.filter((tag) => shape.placeholders.includes(tag)).map((tag) => `${key}: <${tag}>`);
    });
    expect(clashes).toEqual([]);
  });

  it('describes only keys it has, for translators', () => {
    const comments = Object.keys(english._comments ?? {});
    const stale = comments.filter((key) => key !== '*' && !(key.endsWith('.*') ? englishKeys.some((message) => message.includes(`.${key.slice(0, -2)}.`) || message.startsWith(key.slice(0, -1))) : englishKeys.includes(key)));
    expect(stale).toEqual([]);
  });
});

describe('locales/', () => {
  it('holds a catalogue for every shipped locale and nothing else', () => {
    const folder = fileURLToPath(new URL('../../locales/', import.meta.url));
    const files = readdirSync(folder).filter((name) => name.endsWith('.json')).sort();
    expect(files).toEqual(shippedLocales.map((locale) => `${locale}.json`).sort());
    // Each is a JSON object, read as UTF-8 (a translator's editor may add a byte-order mark).
    for (const file of files) expect(readFileSync(`${folder}${file}`, 'utf8').startsWith('{'), file).toBe(true);
  });
});
