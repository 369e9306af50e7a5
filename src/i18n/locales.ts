/**
 * The languages Portico ships (issue 18 item 2), as BCP 47 tags. `en` is the source every other
 * catalogue is checked against; a workspace's `--locale` is one of these.
 */
export const shippedLocales = ['en', 'de', 'fr', 'es', 'nl', 'pt-BR'] as const;

export type Locale = (typeof shippedLocales)[number];

export const sourceLocale: Locale = 'en';

export function isShippedLocale(value: string): value is Locale {
  return (shippedLocales as readonly string[]).includes(value);
}
