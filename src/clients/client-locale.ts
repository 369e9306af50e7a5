import type { Kysely } from 'kysely';
import type { Locale } from '../i18n/locales.js';
import type { Database } from '../storage/schema.js';
import type { Client } from './clients.js';

/**
 * Notes the language of the browser a client last asked from (issue 18 item 2), for mail sent
 * with no browser behind it (the admin API's sign-in link, an invitation). Compared with the row
 * in hand first: a client asking in the same language as before costs no write. Pass the
 * transaction when there is one, so the note goes with what it belongs to. `client` is updated too.
 */
export async function rememberClientLocale(db: Kysely<Database>, client: Client, locale: Locale): Promise<void> {
  if (client.last_locale === locale) return;
  await db.updateTable('clients').set({ last_locale: locale }).where('id', '=', client.id).execute();
  client.last_locale = locale;
}
