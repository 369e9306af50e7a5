import type { FastifyRequest } from 'fastify';
import { negotiateLocale } from '../i18n/negotiate-locale.js';
import { translatorFor } from '../i18n/translator.js';
import type { Workspace } from '../workspaces/workspaces.js';

/**
 * Picks the request's language once, as soon as its workspace is known (or known to be none), and
 * attaches its translator: every page and form error of the request reads `request.i18n`, and a
 * mail asked for from it is queued with `request.i18n.locale` (issue 18 item 2).
 */
export function attachRequestLocale(request: FastifyRequest, workspace: Workspace | null): void {
  request.i18n = translatorFor(negotiateLocale(request.headers['accept-language'], workspace?.locale));
}
