import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import { hitRateLimit } from './rate-limits.js';

/**
 * Takes one of the workspace's sign-in and reset emails of this hour, or says no: one upsert that
 * counts and answers at once, so two workers (or instances) never both take the last one. Asked by
 * the outbox worker only for a known client's mail about to be sent (issue 13 item 9).
 */
export async function takeWorkspaceEmailSlot(db: Kysely<Database>, now: number, workspaceId: string, perHour: number): Promise<boolean> {
  const decision = await hitRateLimit(db, now, { key: `workspace-emails:${workspaceId}`, windowMs: 3_600_000, limit: perHour });
  return decision.allowed;
}
