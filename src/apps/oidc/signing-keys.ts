import { createHash, generateKeyPair, randomUUID, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import type { Clock } from '../../shared/clock.js';
import type { Database } from '../../storage/schema.js';

/** A private signing key as oidc-provider takes it (a JWK with its `kid`). */
export type SigningKey = JsonWebKey & { kid: string; alg: 'RS256'; use: 'sig' };

const generateRsaKeyPair = promisify(generateKeyPair);

/**
 * RS256 is the one algorithm every OpenID Connect library must accept (OpenID Connect Discovery
 * 1.0, 3), so it is the only one Portico signs with. Generated off the event loop (it takes a
 * few hundred milliseconds).
 */
async function newSigningKey(kid: string = randomUUID()): Promise<SigningKey> {
  const { privateKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

/**
 * The id of a workspace's first key is fixed (public, like every `kid`, and telling nothing), so
 * that of several instances making it at once one insert lands and every instance publishes and
 * signs with the same key. With a random id each stored its own, and for up to a second each
 * signed with a key the other did not publish.
 */
function firstSigningKeyId(workspaceId: string): string {
  return createHash('sha256').update(`portico first signing key of ${workspaceId}`, 'utf8').digest('base64url').slice(0, 22);
}

/**
 * The workspace's published keys, newest first: the newest signs, the others (retiring) only
 * verify what they signed before. The first time a workspace is asked, a key is made and stored,
 * so every instance sharing the database signs with the same keys, also when several ask at once.
 */
export async function loadSigningKeys(db: Kysely<Database>, clock: Clock, workspaceId: string): Promise<SigningKey[]> {
  const published = await readPublishedKeys(db, clock.now(), workspaceId);
  if (published.length > 0) return published;
  const key = await newSigningKey(firstSigningKeyId(workspaceId));
  await db
    .insertInto('signing_keys')
    .values({ kid: key.kid, workspace_id: workspaceId, private_jwk: JSON.stringify(key), created_at: clock.now(), retire_at: null })
    .onConflict((conflict) => conflict.column('kid').doNothing())
    .execute();
  return readPublishedKeys(db, clock.now(), workspaceId);
}

/**
 * A fingerprint of the published keys, cheap to read on every OpenID Connect request: when it
 * changes (a rotation, here or in another instance; a key retired), the workspace's provider is
 * built again with the keys as they now are.
 */
export async function readSigningKeysVersion(db: Kysely<Database>, clock: Clock, workspaceId: string): Promise<string> {
  const rows = await publishedKeys(db, clock.now(), workspaceId).select('kid').execute();
  return rows.map((row) => row.kid).join(',');
}

/**
 * Adds a new signing key; the keys before it stop signing and stay published for `keepForMs` (the
 * longest lifetime of anything they signed), then are deleted. Returns the new key's id and the
 * ids of the keys now retiring.
 */
export async function rotateSigningKeys(db: Kysely<Database>, clock: Clock, workspaceId: string, keepForMs: number): Promise<{ kid: string; retiring: { kid: string; retireAt: number }[] }> {
  const key = await newSigningKey();
  const now = clock.now();
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom('signing_keys').where('workspace_id', '=', workspaceId).where('retire_at', '<=', now).execute();
    await trx.updateTable('signing_keys').set({ retire_at: now + keepForMs }).where('workspace_id', '=', workspaceId).where('retire_at', 'is', null).execute();
    await trx.insertInto('signing_keys').values({ kid: key.kid, workspace_id: workspaceId, private_jwk: JSON.stringify(key), created_at: now, retire_at: null }).execute();
    const retiring = await trx.selectFrom('signing_keys').select(['kid', 'retire_at']).where('workspace_id', '=', workspaceId).where('retire_at', 'is not', null).orderBy('created_at', 'desc').execute();
    return { kid: key.kid, retiring: retiring.map((row) => ({ kid: row.kid, retireAt: row.retire_at! })) };
  });
}

async function readPublishedKeys(db: Kysely<Database>, now: number, workspaceId: string): Promise<SigningKey[]> {
  const rows = await publishedKeys(db, now, workspaceId).select('private_jwk').execute();
  return rows.map((row) => JSON.parse(row.private_jwk) as SigningKey);
}

/** The keys a workspace publishes now (none retired yet), newest first: oidc-provider signs with the first. */
function publishedKeys(db: Kysely<Database>, now: number, workspaceId: string) {
  return db
    .selectFrom('signing_keys')
    .where('workspace_id', '=', workspaceId)
    .where((eb) => eb.or([eb('retire_at', 'is', null), eb('retire_at', '>', now)]))
    .orderBy('created_at', 'desc')
    .orderBy('kid');
}
