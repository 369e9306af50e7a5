import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialects/dialect.js';
import { initialSchema } from './0001-initial-schema.js';
import { rateLimits } from './0002-rate-limits.js';
import { passwordResets } from './0003-password-resets.js';
import { workspaceLimits } from './0004-workspace-limits.js';
import { eventsByTime } from './0005-events-by-time.js';
import { outboxFailures } from './0006-outbox-failures.js';
import { sessionGenerations } from './0007-session-generations.js';
import { apps } from './0008-apps.js';
import { signInCodes } from './0009-sign-in-codes.js';
import { defaultDoor } from './0010-default-door.js';
import { invitationsAndSessionEndings } from './0011-invitations-and-session-endings.js';
import { apiKeys } from './0012-api-keys.js';
import { webhooks } from './0013-webhooks.js';
import { brandingAndLanguages } from './0014-branding-and-languages.js';
import { tokenSessionIndex } from './0015-token-session-index.js';

export interface PorticoMigration {
  up(db: Kysely<any>, capabilities: DialectCapabilities): Promise<void>;
}

/** Every migration, in order. Names sort in the order they run; never rename or edit a shipped one. */
export const migrations: Record<string, PorticoMigration> = {
  '0001-initial-schema': initialSchema,
  '0002-rate-limits': rateLimits,
  '0003-password-resets': passwordResets,
  '0004-workspace-limits': workspaceLimits,
  '0005-events-by-time': eventsByTime,
  '0006-outbox-failures': outboxFailures,
  '0007-session-generations': sessionGenerations,
  '0008-apps': apps,
  '0009-sign-in-codes': signInCodes,
  '0010-default-door': defaultDoor,
  '0011-invitations-and-session-endings': invitationsAndSessionEndings,
  '0012-api-keys': apiKeys,
  '0013-webhooks': webhooks,
  '0014-branding-and-languages': brandingAndLanguages,
  '0015-token-session-index': tokenSessionIndex,
};
