import { parseEmailAddress } from '../clients/email.js';
import { readOneLineName } from '../shared/one-line-name.js';

/** A mailbox as a mail header names it: a display name, if any, and the address. */
export interface Mailbox {
  name: string | null;
  address: string;
}

export type MailboxReading = { ok: true; mailbox: Mailbox } | { ok: false; reason: string };

/**
 * Reads `Name <address>` or a bare address, as `--mail-from` takes it. The name is one line of at
 * most 100 characters without `<` or `>` (a line break would let it write headers of its own); the
 * address follows the rules client addresses follow. Mail is handed to nodemailer as `{ name,
 * address }`, which quotes and encodes the name, so a comma or quote in it stays part of the name.
 */
export function readMailbox(text: string, flag: string): MailboxReading {
  const trimmed = text.trim();
  const named = /^(.*?)\s*<([^<>]*)>$/s.exec(trimmed);
  const rawName = named ? named[1]!.replace(/^"(.*)"$/s, '$1') : null;
  const rawAddress = named ? named[2]! : trimmed;
  const address = parseEmailAddress(rawAddress);
  if (!address.ok) return { ok: false, reason: `${flag} "${text}" has no valid address: write it as Name <address@example.com> or address@example.com` };
  if (rawName === null || rawName.trim() === '') return { ok: true, mailbox: { name: null, address: address.email } };
  const name = readOneLineName(rawName);
  if (!name.ok || /[<>]/.test(name.name)) {
    return { ok: false, reason: `${flag} "${text}" has a name that is not one line of 1 to 100 characters without < or >, control characters or text-direction overrides` };
  }
  return { ok: true, mailbox: { name: name.name, address: address.email } };
}

/** `Name <address>`, or the address alone: how a mailbox is stored and shown. */
export function formatMailbox(mailbox: Mailbox): string {
  return mailbox.name === null ? mailbox.address : `${mailbox.name} <${mailbox.address}>`;
}
