import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { generateSecretToken, hashSecretToken, constantTimeEqual } from '../crypto/tokens.js';
import { AppError } from '../errors.js';
import { recordAuditEvents } from '../events/audit-events.js';
import type { Clock } from '../shared/clock.js';
import { readOneLineName } from '../shared/one-line-name.js';
import { prepareQuery } from '../storage/prepared-query.js';
import type { ApiKeyTable, Database } from '../storage/schema.js';
import type { Workspace } from '../workspaces/workspaces.js';

export type ApiKey = Selectable<ApiKeyTable>;

/**
 * Every key starts with this, so a key pasted into a chat or committed to a repository is
 * recognisable to a person and to a secret scanner; 256 random bits follow.
 */
export const apiKeyPrefix = 'pk_';

const apiKeyPattern = /^pk_[A-Za-z0-9_-]{43}$/;

/** What `api-key list --json` prints: never the key, nor its hash. */
export function describeApiKey(key: ApiKey) {
  return {
    id: key.id,
    name: key.name,
    createdAt: new Date(key.created_at).toISOString(),
    revokedAt: key.revoked_at === null ? null : new Date(key.revoked_at).toISOString(),
  };
}

/** Creates a key for one workspace: the key is returned here once and stored only as its hash. */
export async function createApiKey(db: Kysely<Database>, clock: Clock, workspace: Workspace, input: { name?: string }): Promise<{ apiKey: ApiKey; key: string }> {
  const read = readOneLineName(input.name ?? 'API key');
  if (!read.ok) throw new AppError('API_KEY_NAME_INVALID', { message: `The API key name ${read.problem}.` });
  const name = read.name;
  const key = `${apiKeyPrefix}${generateSecretToken()}`;
  const apiKey: ApiKey = { id: `key_${randomBytes(9).toString('base64url')}`, workspace_id: workspace.id, name, key_hash: hashSecretToken(key), created_at: clock.now(), revoked_at: null };
  await db.insertInto('api_keys').values(apiKey).execute();
  await recordAuditEvents(db, [{ workspaceId: workspace.id, at: apiKey.created_at, type: 'api_key.created', detail: { keyId: apiKey.id, name } }]);
  return { apiKey, key };
}

/** A workspace's keys, oldest first, revoked ones included (with when). */
export async function listApiKeys(db: Kysely<Database>, workspace: Workspace): Promise<ApiKey[]> {
  return db.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspace.id).orderBy('created_at').orderBy('id').execute();
}

/** Revokes a key of the workspace: its next request is refused. Revoking a revoked key changes nothing. */
export async function revokeApiKey(db: Kysely<Database>, clock: Clock, workspace: Workspace, id: string): Promise<ApiKey> {
  const now = clock.now();
  return db.transaction().execute(async (trx) => {
    const key = await trx.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspace.id).where('id', '=', id).executeTakeFirst();
    if (!key) throw new AppError('API_KEY_NOT_FOUND', { message: `No API key with the id "${id}" in the workspace "${workspace.slug}".` });
    if (key.revoked_at !== null) return key;
    await trx.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', key.id).where('revoked_at', 'is', null).execute();
    await recordAuditEvents(trx, [{ workspaceId: workspace.id, at: now, type: 'api_key.revoked', detail: { keyId: key.id, name: key.name } }]);
    return { ...key, revoked_at: now };
  });
}

// Compiled once: every admin API request reads its key.
const selectApiKeyByHash = prepareQuery((db, keyHash: string) => db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash));

/**
 * The live key of this workspace that `presented` is, or null: unknown, malformed, revoked and
 * another workspace's keys are all refused alike, so an answer tells nothing about other
 * workspaces. Found by the hash of the key and compared in constant time.
 */
export async function authenticateApiKey(db: Kysely<Database>, workspace: Workspace, presented: string): Promise<ApiKey | null> {
  if (!apiKeyPattern.test(presented)) return null;
  const presentedHash = hashSecretToken(presented);
  const [key] = await selectApiKeyByHash(db, presentedHash);
  if (!key || !constantTimeEqual(key.key_hash, presentedHash)) return null;
  if (key.workspace_id !== workspace.id || key.revoked_at !== null) return null;
  return key;
}
