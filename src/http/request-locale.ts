import type { FastifyInstance, FastifyRequest } from 'fastify';
import { negotiateLocale } from '../i18n/negotiate-locale.js';
import { translatorFor, type Translator } from '../i18n/translator.js';
import type { Workspace } from '../workspaces/workspaces.js';

/** The words of a page asked for with this `Accept-Language` on this workspace's address (or none). */
export function pageTranslator(acceptLanguage: string | string[] | undefined, workspace: Pick<Workspace, 'locale'> | null | undefined): Translator {
  return translatorFor(negotiateLocale(acceptLanguage, workspace?.locale));
}

/**
 * `request.i18n`, the request's language and its words (issue 18 item 2): `Accept-Language` among
 * the shipped languages, else the request's workspace's, else English. Picked on first use and
 * then kept, so every page, form error and mail of the request agree; a mail asked for from the
 * request is queued with `request.i18n.locale`. Lazy because the hottest paths (forward
 * authentication, userinfo, `/api/me`) show no words and need not parse the header. Read only once
 * the workspace is known (or known to be none): the server's first hook sees to that.
 */
export function decorateRequestLocale(app: FastifyInstance): void {
  app.decorateRequest('i18nChosen', null);
  app.decorateRequest('i18n', {
    getter(this: FastifyRequest): Translator {
      return (this.i18nChosen ??= pageTranslator(this.headers['accept-language'], this.workspace));
    },
    // A page that is always in one language (the dev mailbox) says so.
    setter(this: FastifyRequest, translator: Translator) {
      this.i18nChosen = translator;
    },
  });
}
