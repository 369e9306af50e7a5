import type { Kysely } from 'kysely';
import { enqueueMail, type OutboxMail, type PreparedMail } from '../mail/outbox.js';
import type { Database } from '../storage/schema.js';

/** "Email me a sign-in link", as its request row carries it to the worker. */
export interface MagicLinkRequest {
  normalizedEmail: string;
  /** The address as typed, for the audit log; mail goes only to the client's stored address. */
  typedEmail: string;
  ip: string;
  /** Where the link lands once used; null for `/`. */
  nextPath: string | null;
  /**
   * The hash of the browser's binding token: the link signs in only the browser that asked for it.
   * Null when no browser asked (the owner sent it through the admin API): every browser confirms first.
   */
  browserBindingHash: string | null;
  /** The language of the browser that asked, which the mail is written in; null when no browser asked (see MailLanguage). */
  locale?: MailLanguage;
}

/** "Forgot password", as its request row carries it to the worker. */
export interface PasswordResetRequest {
  normalizedEmail: string;
  typedEmail: string;
  ip: string;
  /** The language of the browser that asked. */
  locale?: MailLanguage;
}

/**
 * The language a request's mail is written in (issue 18 item 2): the asking browser's; null when no
 * browser asked (the admin API), for the client's last language, else the workspace's. A request
 * queued before languages existed has none (undefined), and its mail goes out in English.
 */
export type MailLanguage = string | null;

/** An invitation, as its request row carries it to the worker: no link, which is minted when the mail is sent. */
export interface InvitationRequest {
  clientId: string;
}

/**
 * A request for a mail whose link is minted only when it is sent (issue 13 item 7): the row's
 * template says which kind, and its payload is that kind's, nothing else.
 */
export type MailRequest =
  | { template: 'magic-link-request'; payload: MagicLinkRequest }
  | { template: 'password-reset-request'; payload: PasswordResetRequest }
  | { template: 'invitation-request'; payload: InvitationRequest };

/** A request a client makes at a door by typing an address, known or not. */
export type ClientEmailRequest = Extract<MailRequest, { template: 'magic-link-request' | 'password-reset-request' }>;

/** What a domain makes of a request: the mail with its freshly minted link, before it is addressed to the client on record. */
export type MintedMail = Omit<PreparedMail, 'recipient'>;

/** Keys a minter may need, from the config (kept out of the database): the one sign-in codes are hashed under. */
export interface MintingKeys {
  signInCodeKey: string;
}

/** Queues a mail request. Call it inside the transaction that creates what the mail is about, so neither exists without the other. */
export async function enqueueMailRequest(
  db: Kysely<Database>,
  now: number,
  mail: { workspaceId: string; request: MailRequest; recipient: string; giveUpAt: number },
): Promise<void> {
  const { request } = mail;
  await enqueueMail(db, now, { workspaceId: mail.workspaceId, template: request.template, recipient: mail.recipient, payload: { ...request.payload }, giveUpAt: mail.giveUpAt });
}

/**
 * Reads a request row back. A row whose payload does not have its kind's shape (a bug, a damaged
 * row) throws: the worker counts that as a failed preparation, and gives the row up after a few.
 */
export function readMailRequest(row: Pick<OutboxMail, 'template' | 'payload'>): MailRequest {
  let payload: unknown;
  try {
    payload = JSON.parse(row.payload);
  } catch {
    // Not the parser's message: it quotes the payload, which would reach the log and mail.failed.
    throw new Error(`the payload of a ${row.template} row is not JSON`);
  }
  if (typeof payload !== 'object' || payload === null) throw new Error(`the payload of a ${row.template} row is not an object`);
  const fields = payload as Record<string, unknown>;
  // The error names the field, never its value: it goes to the log and to mail.failed.
  const missing = (name: string) => new Error(`the payload of a ${row.template} row has no ${name}`);
  const text = (name: string): string => {
    const value = fields[name];
    if (typeof value === 'string') return value;
    throw missing(name);
  };
  const textOrNull = (name: string): string | null => {
    const value = fields[name];
    if (typeof value === 'string' || value === null) return value;
    throw missing(name);
  };
  // Optional: a row queued before languages existed has none.
  const language = (): { locale?: MailLanguage } => (fields.locale === undefined ? {} : { locale: textOrNull('locale') });
  switch (row.template) {
    case 'magic-link-request':
      return {
        template: row.template,
        payload: {
          normalizedEmail: text('normalizedEmail'),
          typedEmail: text('typedEmail'),
          ip: text('ip'),
          nextPath: textOrNull('nextPath'),
          browserBindingHash: textOrNull('browserBindingHash'),
          ...language(),
        },
      };
    case 'password-reset-request':
      return { template: row.template, payload: { normalizedEmail: text('normalizedEmail'), typedEmail: text('typedEmail'), ip: text('ip'), ...language() } };
    case 'invitation-request':
      return { template: row.template, payload: { clientId: text('clientId') } };
    default:
      throw new Error(`${row.template} is not a kind of mail request`);
  }
}
