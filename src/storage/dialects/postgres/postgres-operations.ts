import type { Kysely } from 'kysely';
import { prepareClaimOfDueMail, prepareClaimOfDueWebhookDeliveries } from '../../operations/one-at-a-time.js';
import type { AuditEventRow, EmailSlotRequest, LinkToConsume, RateLimitHit, StorageOperations } from '../../operations/storage-operations.js';
import type { Database } from '../../schema.js';
import { TickBatch } from '../../tick-batch.js';
import { countHitsAtOnce, takeEmailSlotsAtOnce } from './batched-counters.js';
import { consumeLinksAtOnce } from './batched-link-consumption.js';
import { eraseOutboxRowsAtOnce, eraseSentMailsAtOnce, findClientsByNormalizedEmailAtOnce, markMailsCountedAtOnce } from './batched-rows.js';

const claimDueSkippingLocked = prepareClaimOfDueMail({ skipLocked: true });
const claimDueWebhooksSkippingLocked = prepareClaimOfDueWebhookDeliveries({ skipLocked: true });

/**
 * The hot-path operations on PostgreSQL. Each statement is a round trip, and on this kind of
 * machine a round trip costs the Node process more than the statement costs the server: so the
 * calls made in one turn of the event loop are sent together (TickBatch), with what PostgreSQL's
 * SQL offers (arrays as parameters, writing CTEs). The batches belong to this database.
 */
export function postgresOperations(db: Kysely<Database>): StorageOperations {
  const hits = new TickBatch((batch: RateLimitHit[]) => countHitsAtOnce(db, batch));
  const emailSlots = new TickBatch((batch: EmailSlotRequest[]) => takeEmailSlotsAtOnce(db, batch));
  const clientLookups = new TickBatch((batch: { workspaceId: string; normalizedEmail: string }[]) => findClientsByNormalizedEmailAtOnce(db, batch));
  const consumptions = new TickBatch((batch: LinkToConsume[]) => consumeLinksAtOnce(db, batch));
  const erasures = new TickBatch((ids: string[]) => eraseOutboxRowsAtOnce(db, ids));
  const sentErasures = new TickBatch((sent: { id: string; event: AuditEventRow }[]) => eraseSentMailsAtOnce(db, sent));
  const countedMarks = new TickBatch((marks: { id: string; now: number; event: AuditEventRow }[]) => markMailsCountedAtOnce(db, marks));
  return {
    countRateLimitHit: (hit) => hits.add(hit),
    takeEmailSlot: (request) => emailSlots.add(request),
    findClientByNormalizedEmail: (workspaceId, normalizedEmail) => clientLookups.add({ workspaceId, normalizedEmail }),
    consumeMagicLink: (link) => consumptions.add(link),
    // Rows another worker (another instance) is claiming are skipped rather than waited for.
    claimDueMail: (now, leaseUntil, batchSize) => claimDueSkippingLocked(db, now, leaseUntil, batchSize),
    claimDueWebhookDeliveries: (now, leaseUntil, batchSize) => claimDueWebhooksSkippingLocked(db, now, leaseUntil, batchSize),
    eraseOutboxMail: (id) => erasures.add(id),
    eraseSentMail: (id, event) => sentErasures.add({ id, event }),
    markMailCounted: (id, now, event) => countedMarks.add({ id, now, event }),
  };
}
