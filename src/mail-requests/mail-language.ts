import type { Client } from '../clients/clients.js';
import { readLocale } from '../i18n/negotiate-locale.js';
import { sourceLocale, type Locale } from '../i18n/locales.js';
import type { Workspace } from '../workspaces/workspaces.js';
import type { MailLanguage } from './mail-request.js';

/**
 * The language a client's mail is written in (issue 18 item 2): the browser's that asked for it;
 * with no browser (null: the admin API, an invitation), the client's last, else the workspace's;
 * a request queued before languages existed (undefined) keeps the English it would have had.
 */
export function mailLocaleFor(requested: MailLanguage | undefined, client: Client, workspace: Workspace): Locale {
  if (requested === undefined) return sourceLocale;
  if (requested !== null) return readLocale(requested);
  return readLocale(client.last_locale ?? workspace.locale);
}
