import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { messageKeys, readCatalogueFile } from './catalogues.js';
import { sourceLocale } from './locales.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const englishKeys = new Set(messageKeys(readCatalogueFile(sourceLocale)));
// Every key is `<page or part>.<purpose>`: a quoted string that starts with one of these is a key.
const namespaces = [...new Set([...englishKeys].map((key) => key.split('.')[0]!))];
const keyLiteral = new RegExp(`['"\`]((?:${namespaces.join('|')})\\.[A-Za-z0-9.]+)['"\`]`, 'g');

function filesUnder(folder: string, extension: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(extension) && !entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Every message key the views and the code that renders (the doors in `src/http/`, the mail
 * templates) name, with where. Keys are always written out whole (no `${}`), so this sees them
 * all; domain code returns codes, never keys (audit event types such as `login.failed` look alike).
 */
function keysInUse(): Map<string, string> {
  const used = new Map<string, string>();
  const files = [...filesUnder(join(root, 'src/http'), '.ts'), join(root, 'src/mail/templates.ts'), ...filesUnder(join(root, 'views'), '.eta')];
  for (const file of files) {
    for (const match of readFileSync(file, 'utf8').matchAll(keyLiteral)) used.set(match[1]!, file.slice(root.length));
  }
  return used;
}

// issue 18 item 2: a key a page or mail asks for and English lacks would throw at render time.
describe('message keys', () => {
  const used = keysInUse();

  it('finds the keys the views and the code use', () => {
    expect(used.size).toBeGreaterThan(100);
  });

  it('has every key the code and views use in locales/en.json', () => {
    expect([...used].filter(([key]) => !englishKeys.has(key)).map(([key, file]) => `${key} (${file})`)).toEqual([]);
  });

  it('has no message in locales/en.json that nothing uses (translators would translate it for nothing)', () => {
    expect([...englishKeys].filter((key) => !used.has(key))).toEqual([]);
  });
});
