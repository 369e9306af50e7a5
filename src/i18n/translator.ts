import { compiledCatalogue, sourceCatalogue, type CompiledMessage } from './catalogues.js';
import { describeDuration, describeWait } from '../shared/duration.js';
import type { Locale } from './locales.js';

/** Values a message's placeholders take. Strings are text: `html` escapes them. */
export type MessageValues = Record<string, string | number | Date>;

/** Markup already escaped, as rich-text tags produce it. */
interface Markup {
  readonly markup: string;
}

/** Renders a rich-text tag around its content (already HTML). */
export type TagRenderer = (content: string) => string;

/** The same escaping Eta gives `<%= %>`, so a sentence reads alike whichever wrote it. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' }[character]};`);
}

/**
 * Tags any message may use without the caller naming them. Tags and placeholders share one
 * namespace in intl-messageformat, so no tag is named like a value (catalogues.test.ts checks).
 */
const standardTags: Record<string, TagRenderer> = {
  strong: (content) => `<strong>${content}</strong>`,
  em: (content) => `<em>${content}</em>`,
  // An address in a sentence: bold, and wrapped only where it must be (styles.eta `.account-email`).
  address: (content) => `<span class="account-email">${content}</span>`,
  // Read by screen readers only.
  hidden: (content) => `<span class="visually-hidden">${content}</span>`,
};

/** A link around a message's `<link>…</link>` (or any tag name), its address escaped. */
export function linkTag(href: string, attributes = ''): TagRenderer {
  return (content) => `<a href="${escapeHtml(href)}"${attributes ? ` ${attributes}` : ''}>${content}</a>`;
}

/** The words of one language: messages from its catalogue, durations and dates from `Intl`. */
export interface Translator {
  readonly locale: Locale;
  /** A message as plain text (a title, an attribute, a plain-text mail); rich-text tags keep only their content. */
  t(key: string, values?: MessageValues): string;
  /** A message as HTML: every value and every word escaped, its tags rendered by `tags` or the standard ones. */
  html(key: string, values?: MessageValues, tags?: Record<string, TagRenderer>): string;
  /** A lifetime in words, never rounded up: `15 minutes`. */
  duration(milliseconds: number): string;
  /** A wait in words, in whole seconds rounded up: `1 minute 5 seconds`. */
  wait(milliseconds: number): string;
  /** A date and time in UTC, for a page's `<time>` title: `December 1, 2026 at 12:30 PM UTC`. */
  dateTime(at: number): string;
}

const translators = new Map<Locale, Translator>();

/** The translator for a shipped locale; one per locale, made on first use. */
export function translatorFor(locale: Locale): Translator {
  let translator = translators.get(locale);
  if (!translator) {
    translator = createTranslator(locale);
    translators.set(locale, translator);
  }
  return translator;
}

function createTranslator(locale: Locale): Translator {
  const catalogue = compiledCatalogue(locale);
  // In UTC, named: the server cannot know the visitor's time zone (the page sends no script for it).
  const dateTimeFormat = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short' });
  // Every shipped catalogue has every English key (catalogues.test.ts); English stands in only
  // while a new message waits for its translation. A key English lacks is a bug: it throws, in
  // tests and everywhere.
  const messageOf = (key: string): CompiledMessage => {
    const message = catalogue.get(key) ?? sourceCatalogue().get(key);
    if (!message) throw new Error(`no message ${key} in locales/en.json`);
    return message;
  };
  return {
    locale,
    t(key, values = {}) {
      const message = messageOf(key);
      const plainTags = Object.fromEntries(message.tags.map((tag) => [tag, (chunks: unknown[]) => chunks.join('')]));
      return String(message.format.format({ ...values, ...plainTags }));
    },
    html(key, values = {}, tags = {}) {
      const message = messageOf(key);
      const renderers: Record<string, (chunks: (string | Markup)[]) => Markup> = {};
      for (const tag of message.tags) {
        const render = tags[tag] ?? standardTags[tag];
        if (!render) throw new Error(`the message ${key} has a <${tag}> tag, and no renderer was given for it`);
        renderers[tag] = (chunks) => ({ markup: render(chunks.map(toHtml).join('')) });
      }
      const formatted = message.format.format<Markup>({ ...values, ...renderers });
      return Array.isArray(formatted) ? formatted.map(toHtml).join('') : toHtml(formatted);
    },
    duration: (milliseconds) => describeDuration(milliseconds, locale),
    wait: (milliseconds) => describeWait(milliseconds, locale),
    dateTime: (at) => dateTimeFormat.format(at),
  };
}

/** Text (the message's words, its values) is escaped; what a tag rendered is markup already. */
function toHtml(chunk: string | Markup): string {
  return typeof chunk === 'string' ? escapeHtml(chunk) : chunk.markup;
}
