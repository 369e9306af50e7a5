import type { Kysely } from 'kysely';
import { countSignInCodeRefused } from '../metrics/portico-metrics.js';
import type { PorticoContext } from '../context.js';
import { hashSecretToken } from '../crypto/tokens.js';
import { recordAuditEvents } from '../events/audit-events.js';
import type { Locale } from '../i18n/locales.js';
import { workspaceLimits } from '../rate-limits/limits.js';
import { hitRateLimit } from '../rate-limits/rate-limits.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { consumeMagicLinkByHash } from './magic-links.js';
import { signInWithConsumedLink, type MagicLinkRedemption } from './redeem-magic-link.js';
import { hashSignInCode, maxGuessesPerCode, normalizeTypedSignInCode, signInCodeHashesMatch } from './sign-in-code.js';

/** Why a code cannot be used: each gets a page that offers a new link. */
export type SignInCodeRejection = 'used' | 'superseded' | 'expired' | 'client_disabled' | 'email_changed' | 'too_many_guesses';

export type SignInCodeRedemption =
  | Extract<MagicLinkRedemption, { ok: true }>
  /** Not a code's shape, or not a code of this browser: the form again. The same for known and unknown addresses. */
  | { ok: false; reason: 'malformed' | 'wrong' }
  | { ok: false; reason: SignInCodeRejection }
  /** Over the per-IP cap on guesses. */
  | { ok: false; reason: 'ip_limited'; retryAfterMs: number };

const hourMs = 3_600_000;

/*
 * One statement takes a guess on every pending code of this browser that has guesses left, and
 * returns them: of any number of simultaneous guesses, on any instance, at most `maxGuessesPerCode`
 * are ever compared with one code (no read-then-write to slip between). A code whose guesses are
 * spent is dead; its link still works.
 */
const takeGuessOnPendingCodes = prepareQuery((db, now: number, workspaceId: string, browserBindingHash: string, maxGuesses: number) =>
  db
    .updateTable('magic_links')
    .set((eb) => ({ code_attempts: eb('code_attempts', '+', 1) }))
    .where('workspace_id', '=', workspaceId)
    .where('browser_binding_hash', '=', browserBindingHash)
    .where('code_hash', 'is not', null)
    .where('ended_at', 'is', null)
    .where('expires_at', '>', now)
    .where('code_attempts', '<', maxGuesses)
    .returning(['token_hash', 'client_id', 'code_hash']),
  // `relaxed`, as the rate-limit counters (storage/operations/one-at-a-time.ts): a database crash may
  // forget the last fraction of a second of guesses. Waiting for the disk here, and not when a
  // browser that asked for an unknown address has no code to count, would tell the two apart.
  { durability: 'relaxed' },
);

/**
 * Signs a client in with the code from a sign-in email, typed in the browser that asked for that
 * email. The right code is the link: it is used by the same atomic step (consumeMagicLinkToken),
 * which ends the link, its code and every other pending link and code of the client, and the sign-in
 * is the link's (signInWithConsumedLink). Every guess is capped before it is compared: per IP and
 * per client by one upsert each (rate-limits.ts), per code by one conditional UPDATE. A wrong code
 * does the same statements whether or not the address that asked belongs to a client.
 */
export async function redeemSignInCode(
  context: PorticoContext,
  workspace: Workspace,
  input: { code: unknown; browserBindingToken: string | undefined; ip: string; userAgent: string; /** The browser's language, noted as the client's last. */ locale: Locale },
): Promise<SignInCodeRedemption> {
  const redemption = await compareSignInCode(context, workspace, input);
  // Every refusal is counted by its reason, a fixed value (portico_sign_in_codes_refused_total).
  if (!redemption.ok) countSignInCodeRefused(context, redemption.reason);
  return redemption;
}

async function compareSignInCode(
  context: PorticoContext,
  workspace: Workspace,
  input: { code: unknown; browserBindingToken: string | undefined; ip: string; userAgent: string; locale: Locale },
): Promise<SignInCodeRedemption> {
  const code = normalizeTypedSignInCode(input.code);
  if (code === null) return { ok: false, reason: 'malformed' };
  const db = context.db;
  const now = context.clock.now();
  const limits = workspaceLimits(context.config.limits, workspace);
  const ipDecision = await hitRateLimit(db, now, { key: `code-guesses-ip:${workspace.id}:${input.ip}`, windowMs: hourMs, limit: limits.codeGuessesPerIpPerHour });
  if (!ipDecision.allowed) return { ok: false, reason: 'ip_limited', retryAfterMs: ipDecision.retryAfterMs };

  const typedHash = hashSignInCode(context.config.signInCodeKey, code);
  const browserHash = input.browserBindingToken === undefined ? null : hashSecretToken(input.browserBindingToken);
  const pending = browserHash === null ? [] : await takeGuessOnPendingCodes(db, now, workspace.id, browserHash, maxGuessesPerCode);
  // The per-client cap, one upsert per client whose codes this guess would be compared with. A
  // browser with none (it asked for an unknown address) counts on a key of its own: the same work,
  // and the same answers, as for a known address (no account enumeration, OWASP ASVS 6.3).
  // One place per code compared, not per guess: the cap bounds comparisons, which is what the odds
  // in SECURITY.md count, however many codes of the client are pending in this browser.
  const capKeys = pending.length > 0 ? pending.map((row) => `code-guesses-client:${workspace.id}:${row.client_id}`) : [`code-guesses-browser:${workspace.id}:${browserHash ?? input.ip}`];
  const decisions = await Promise.all(capKeys.map((key) => hitRateLimit(db, now, { key, windowMs: hourMs, limit: limits.codeGuessesPerClientPerHour })));
  // Compared with every candidate, not stopping at a match: the time taken does not say which one matched.
  let match: (typeof pending)[number] | undefined;
  for (const [index, row] of pending.entries()) {
    if (signInCodeHashesMatch(typedHash, row.code_hash) && decisions[index]!.allowed) match ??= row;
  }
  if (match) {
    const consumed = await consumeMagicLinkByHash(db, now, workspace.id, match.token_hash);
    if (consumed.ok) return signInWithConsumedLink(context, workspace, consumed, { ip: input.ip, userAgent: input.userAgent, locale: input.locale, with: 'code' });
    // Another request used this link or one of its client's first (two right codes at once).
    await recordRejection(context, workspace, now, consumed.clientEmail, input.ip, consumed.reason);
    return { ok: false, reason: consumed.reason === 'unknown' || consumed.reason === 'other_workspace' ? 'used' : consumed.reason };
  }
  // Over the per-client cap a right code is answered as a wrong one: a refusal that only a
  // known client's codes could meet would tell who is a client.
  const explained = await explainRefusedCode(db, now, workspace.id, typedHash, browserHash);
  if (explained) {
    await recordRejection(context, workspace, now, explained.clientEmail, input.ip, explained.reason);
    return { ok: false, reason: explained.reason };
  }
  return { ok: false, reason: 'wrong' };
}

async function recordRejection(context: PorticoContext, workspace: Workspace, now: number, email: string | null, ip: string, reason: string): Promise<void> {
  await recordAuditEvents(context.db, [{ workspaceId: workspace.id, at: now, type: 'magic_link.rejected', email, ip, detail: { reason, with: 'code' } }]);
}

/**
 * A code that matched no pending code of this browser: is it one of this browser's own that can no
 * longer be used (used, expired, superseded, its guesses spent)? Then the person gets a page that
 * says so and offers a new link; otherwise it is simply wrong. Only this browser's codes are looked
 * at: an answer that told another browser's right code from a wrong one would let anyone guess a
 * code from browsers that take no guess from its caps, and then type it in the browser that asked.
 */
async function explainRefusedCode(
  db: Kysely<Database>,
  now: number,
  workspaceId: string,
  typedHash: string,
  browserHash: string | null,
): Promise<{ reason: SignInCodeRejection; clientEmail: string | null } | null> {
  const rows = await db
    .selectFrom('magic_links')
    .innerJoin('clients', 'clients.id', 'magic_links.client_id')
    .select(['magic_links.browser_binding_hash', 'magic_links.expires_at', 'magic_links.ended_at', 'magic_links.end_reason', 'magic_links.code_attempts', 'clients.email', 'clients.disabled_at'])
    .where('magic_links.workspace_id', '=', workspaceId)
    .where('magic_links.code_hash', '=', typedHash)
    .where('magic_links.browser_binding_hash', '=', browserHash ?? '')
    .limit(20)
    .execute();
  const own = browserHash === null ? undefined : rows[0];
  if (own) {
    const ended = own.end_reason === 'superseded' || own.end_reason === 'client_disabled' || own.end_reason === 'email_changed' ? own.end_reason : 'used';
    if (own.ended_at !== null) return { reason: ended, clientEmail: own.email };
    if (own.disabled_at !== null) return { reason: 'client_disabled', clientEmail: own.email };
    if (own.expires_at <= now) return { reason: 'expired', clientEmail: own.email };
    if (own.code_attempts >= maxGuessesPerCode) return { reason: 'too_many_guesses', clientEmail: own.email };
    // Pending, with guesses left, yet not compared: its client's cap is spent. Saying anything but
    // "wrong" would confirm the guess.
    return null;
  }
  return null;
}
