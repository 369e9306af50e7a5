import type { FastifyReply, FastifyRequest } from 'fastify';
import { interactionPathPrefix } from '../apps/oidc/workspace-providers.js';
import type { PorticoContext } from '../context.js';
import { parseNextPath } from '../magic-links/next-path.js';
import type { EmailProblem } from '../clients/email.js';
import type { Translator } from '../i18n/translator.js';
import { waitSeconds } from '../shared/duration.js';
import { readCurrentSession } from './current-session.js';
import { renderPage } from './render.js';

/*
 * What the three doors (`/login`, `/magic-login`, `/forgot-password`) share so that none is a dead
 * end (issue 17 item 2): the address carried from one to the other, the "you are signed in" panel,
 * the wait a page counts down, and the form kept on a 429.
 */

/** An address is at most 254 characters (RFC 5321); anything longer in a query is not carried. */
const maxEmailLength = 254;

/** A wait a page counts down: whole seconds (the script's start) and the words shown without JavaScript. */
export interface PageWait {
  seconds: number;
  words: string;
}

/** The wait until `at`, in the page's words, or null when it is already over. */
export function waitUntil(i18n: Translator, now: number, at: number): PageWait | null {
  return at > now ? waitFor(i18n, at - now) : null;
}

/** A wait of `milliseconds`, in the page's words. */
export function waitFor(i18n: Translator, milliseconds: number): PageWait {
  return { seconds: waitSeconds(milliseconds), words: i18n.wait(milliseconds) };
}

/** What the email field of a door says for each problem with a typed address (message keys). */
export const emailFieldErrors: Record<EmailProblem, string> = {
  not_text: 'emailField.notText',
  empty: 'emailField.empty',
  too_long: 'emailField.tooLong',
  not_ascii: 'emailField.notAscii',
  malformed: 'emailField.malformed',
};

/**
 * The address a link between the doors carries in its query (`?email=`), to prefill the form; an
 * address is not secret, and the page escapes it. Too long, or with control characters: not carried.
 */
export function readCarriedEmail(value: unknown): string {
  if (typeof value !== 'string' || value.length > maxEmailLength) return '';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) return '';
  return value.trim();
}

/** The address as typed into a form, kept for the page that answers it (never the password). */
export function readTypedEmail(body: Record<string, unknown> | undefined): string {
  return typeof body?.email === 'string' ? body.email.slice(0, maxEmailLength) : '';
}

/** A door's address with `email` and `next` in its query, for links between the doors. */
export function doorHref(door: '/login' | '/magic-login' | '/forgot-password', fields: { email?: string; next?: string | null }): string {
  const query = new URLSearchParams();
  if (fields.email) query.set('email', fields.email);
  if (fields.next) query.set('next', fields.next);
  const text = query.toString();
  return text ? `${door}?${text}` : door;
}

/** "You are signed in as … — Continue", with a way to sign in as someone else (signing out first). */
export interface SignedInPanel {
  email: string;
  continueTo: string;
  /** The door to come back to once signed out (POST /logout's `then`). */
  signOutThen: string;
}

/**
 * The panel for a signed-in visitor of a door, or null. An app that asks for a fresh sign-in
 * (`prompt=login`, `max_age`) sends a signed-in browser to the doors on purpose: there the form is
 * shown, since "Continue" would only lead back to the door.
 */
export async function signedInPanelFor(
  context: PorticoContext,
  request: FastifyRequest,
  door: '/login' | '/magic-login',
  next: string | null,
): Promise<SignedInPanel | null> {
  if (next?.startsWith(interactionPathPrefix)) return null;
  const session = await readCurrentSession(context, request);
  if (!session) return null;
  return { email: session.clientEmail, continueTo: next ?? '/', signOutThen: doorHref(door, { next }) };
}

const doorsAfterSignOut = new Set(['/login', '/magic-login']);

/**
 * Where a sign-out sends the browser: back to the door named in `then` (with its `next`), so "sign
 * in as someone else" lands on the door it was pressed on; else the workspace's default door (the
 * one `/` leads to), so a client without a password is not left on the password page.
 */
export function pathAfterSignOut(then: unknown, defaultDoor: string): string {
  const path = parseNextPath(then);
  const url = path ? new URL(path, 'http://portico.invalid') : null;
  const door = url && doorsAfterSignOut.has(url.pathname) ? url.pathname : defaultDoor;
  const next = url ? parseNextPath(url.searchParams.get('next')) : null;
  return `${door}?signed_out=1${next ? `&next=${encodeURIComponent(next)}` : ''}`;
}

/**
 * A door's page at a 429 (the per-IP limit): the form again with what was typed (never the
 * password), a countdown to when it can be sent, and the other door. Null for the doors that have
 * no form to keep (link redemption, reset, account), which get the plain "too many attempts" page.
 */
export function renderDoorWhenLimited(request: FastifyRequest, reply: FastifyReply, door: string, retryAfterMs: number): FastifyReply | null {
  const body = request.body as Record<string, unknown> | undefined;
  const email = readTypedEmail(body);
  const wait = waitFor(request.i18n, retryAfterMs);
  switch (door) {
    case 'login':
      return renderPage(request, reply, 'login', { titleKey: 'login.title', next: parseNextPath(body?.next), email, limited: true, wait }, 429);
    case 'magic-login':
      return renderPage(request, reply, 'magic-login', { titleKey: 'magicLogin.title', next: parseNextPath(body?.next), email, limited: true, wait, passwordDoor: true }, 429);
    case 'forgot-password':
      return renderPage(request, reply, 'forgot-password', { titleKey: 'forgotPassword.title', email, limited: true, wait }, 429);
    default:
      return null;
  }
}
