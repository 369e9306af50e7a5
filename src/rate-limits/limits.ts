import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { takeEmailSlot } from './rate-limits.js';

/** Every abuse limit, as set by the environment and, per workspace, by `portico workspace update`. */
export interface Limits {
  /** Least time between two emails (sign-in or reset) to one address of a workspace. */
  readonly emailCooldownMs: number;
  /** Emails (sign-in or reset) to one address of a workspace per hour. */
  readonly emailsPerHour: number;
  /** POSTs per client IP per minute on each door but link redemption. */
  readonly ipRequestsPerMinute: number;
  /** Link redemptions per client IP per 5 minutes. */
  readonly redemptionsPer5Minutes: number;
  /** Sign-in and reset emails a workspace may send per hour, so no portal becomes a spam cannon. */
  readonly workspaceEmailsPerHour: number;
  /** Sign-in code guesses against one client's codes per hour, from any number of browsers and IPs. */
  readonly codeGuessesPerClientPerHour: number;
  /** Sign-in code guesses per client IP per hour. */
  readonly codeGuessesPerIpPerHour: number;
}

/** The limits in force for a workspace: its own where it set one, the environment's otherwise. */
export function workspaceLimits(defaults: Limits, workspace: Workspace): Limits {
  return {
    emailCooldownMs: workspace.limit_email_cooldown_ms ?? defaults.emailCooldownMs,
    emailsPerHour: workspace.limit_emails_per_hour ?? defaults.emailsPerHour,
    ipRequestsPerMinute: workspace.limit_ip_per_minute ?? defaults.ipRequestsPerMinute,
    redemptionsPer5Minutes: workspace.limit_redemptions_per_5_minutes ?? defaults.redemptionsPer5Minutes,
    workspaceEmailsPerHour: workspace.limit_workspace_emails_per_hour ?? defaults.workspaceEmailsPerHour,
    codeGuessesPerClientPerHour: defaults.codeGuessesPerClientPerHour,
    codeGuessesPerIpPerHour: defaults.codeGuessesPerIpPerHour,
  };
}

export interface EmailSendDecision {
  outcome: 'allowed' | 'address_limited';
  /** When this address may be sent its next email: the same for known and unknown addresses. */
  nextEmailAt: number;
}

/**
 * May this workspace send one more sign-in or reset email to this address? Asked alike for known
 * and unknown addresses, and the answer never shows to the person asking. The workspace's hourly
 * ceiling is not asked here: requests for made-up addresses would fill it (issue 13 item 9); the
 * outbox worker takes it for mail actually sent (workspace-email-ceiling.ts).
 */
export async function decideEmailSend(db: Kysely<Database>, now: number, limits: Limits, workspaceId: string, normalizedEmail: string): Promise<EmailSendDecision> {
  const addressSlot = await takeEmailSlot(db, now, {
    key: `email:${workspaceId}:${normalizedEmail}`,
    cooldownMs: limits.emailCooldownMs,
    perHour: limits.emailsPerHour,
  });
  return { outcome: addressSlot.taken ? 'allowed' : 'address_limited', nextEmailAt: addressSlot.nextSlotAt };
}
