import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

/** Templates live in `views/` at the project root, next to `src/` and `dist/` alike. */
const viewsFolder = fileURLToPath(new URL('../../views/', import.meta.url));

/** For pages and HTML mail: every `<%= %>` is HTML-escaped. */
export const htmlTemplates = new Eta({ views: viewsFolder, autoEscape: true, cache: true, useWith: false });

/** For plain-text mail only: nothing is escaped, since nothing there is read as HTML. */
export const textTemplates = new Eta({ views: viewsFolder, autoEscape: false, cache: true, useWith: false });
