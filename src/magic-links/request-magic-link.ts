import type { Kysely } from 'kysely';
import type { Client } from '../clients/clients.js';
import { checkEmailAddress, type EmailProblem } from '../clients/email.js';
import type { PorticoContext } from '../context.js';
import { hashSecretToken } from '../crypto/tokens.js';
import type { Locale } from '../i18n/locales.js';
import { mailLocaleFor } from '../mail-requests/mail-language.js';
import type { MagicLinkRequest, MintedMail, MintingKeys } from '../mail-requests/mail-request.js';
import { queueClientEmailRequest } from '../mail-requests/queue-client-email-request.js';
import type { Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { buildMagicLinkUrl, issueMagicLinkToken } from './magic-links.js';
import { parseNextPath } from './next-path.js';
import { formatSignInCode, generateSignInCode, hashSignInCode } from './sign-in-code.js';

export type MagicLinkRequestResult =
  /** `alreadySent`: an email went to this address too recently, so this request sent nothing; `nextRequestAt`: when another can be asked for. */
  | { ok: true; email: string; alreadySent: boolean; nextRequestAt: number }
  /** The typed address is not one: what is wrong, for the page to say. */
  | { ok: false; problem: EmailProblem };

/**
 * Handles "email me a sign-in link". The answer is the same whether or not the email belongs to a
 * client, and so is the work done before answering; only a known, enabled client gets a link. The
 * per-address cooldown holds for unknown addresses too, so saying it is running tells nothing.
 */
export async function requestMagicLink(
  context: PorticoContext,
  workspace: Workspace,
  input: { email: unknown; next: unknown; browserBindingToken: string; ip: string; /** The asking browser's language, for the mail (absent: English). */ locale?: Locale },
): Promise<MagicLinkRequestResult> {
  const email = checkEmailAddress(input.email);
  if (!email.ok) return { ok: false, problem: email.problem };
  const queued = await queueClientEmailRequest(
    context,
    workspace,
    {
      template: 'magic-link-request',
      payload: {
        normalizedEmail: email.normalized,
        typedEmail: email.email,
        ip: input.ip,
        nextPath: parseNextPath(input.next),
        browserBindingHash: hashSecretToken(input.browserBindingToken),
        locale: input.locale,
      },
    },
    workspace.magic_link_ttl_ms,
  );
  return { ok: true, email: email.email, alreadySent: !queued.queued, nextRequestAt: queued.nextRequestAt };
}

/**
 * In the outbox worker, at each attempt to send: mints a fresh link and the one-time code beside it
 * for a known client's request and stores their hashes; the token and the code go only into the
 * mail built in memory (issue 13 item 7, issue 17 item 1).
 */
export async function mintMagicLinkMail(
  db: Kysely<Database>,
  requestedAt: number,
  workspace: Workspace,
  client: Client,
  request: MagicLinkRequest,
  keys: MintingKeys,
): Promise<MintedMail> {
  // A code works only in the browser that asked; a link no browser asked for (the admin API's)
  // goes without one, rather than with a code that could never work.
  const code = request.browserBindingHash === null ? null : generateSignInCode();
  // The link's lifetime counts from the request, not from when the worker got to it; the code's is the link's.
  const link = await issueMagicLinkToken(db, requestedAt, {
    workspaceId: workspace.id,
    clientId: client.id,
    ttlMs: workspace.magic_link_ttl_ms,
    nextPath: request.nextPath,
    browserBindingHash: request.browserBindingHash,
    codeHash: code === null ? null : hashSignInCode(keys.signInCodeKey, code),
  });
  return {
    template: 'magic-link',
    payload: {
      link: buildMagicLinkUrl(workspace.url, link.token),
      ...(code === null ? {} : { code: formatSignInCode(code) }),
      ttlMs: workspace.magic_link_ttl_ms,
      workspaceName: workspace.name,
      clientName: client.name,
      from: workspace.mail_from,
      locale: mailLocaleFor(request.locale, client, workspace),
    },
  };
}
