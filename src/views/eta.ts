import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

/** Templates live in `views/` at the project root, next to `src/` and `dist/` alike. */
const viewsFolder = fileURLToPath(new URL('../../views/', import.meta.url));

/** For pages and HTML mail: every `<%= %>` is HTML-escaped. */
export const htmlTemplates = new Eta({ views: viewsFolder, autoEscape: true, cache: true, useWith: false });

/** For plain-text mail only: nothing is escaped, since nothing there is read as HTML. */
// autoTrim off: Eta would otherwise eat the line break after a tag, and the blank lines around a
// link are what keep it on a line of its own in every mail program.
export const textTemplates = new Eta({ views: viewsFolder, autoEscape: false, autoTrim: false, cache: true, useWith: false });
