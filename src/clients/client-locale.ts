import type { Kysely } from 'kysely';
import type { Locale } from '../i18n/locales.js';
import type { Database } from '../storage/schema.js';
import type { Client } from './clients.js';

/**
 * Notes the language of a browser the client acted from (issue 18 item 2): one it signed in from,
 * or set or reset its password in; that language is used for mail sent with no browser behind it
 * (the admin API's sign-in link, an invitation). Never noted when a link is merely asked for: anyone
 * can ask for one to any address, and would choose the language of the client's later mail.
 * Compared with the value in hand first (the row, or what the sign-in's own statement read): the
 * same language as before costs no write. Pass the transaction when there is one, so the note goes
 * with what it belongs to. `client` is updated too.
 */
export async function rememberClientLocale(db: Kysely<Database>, client: Pick<Client, 'id' | 'last_locale'>, locale: Locale): Promise<void> {
  if (client.last_locale === locale) return;
  await db.updateTable('clients').set({ last_locale: locale }).where('id', '=', client.id).execute();
  client.last_locale = locale;
}
