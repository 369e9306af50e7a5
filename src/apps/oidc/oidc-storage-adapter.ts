import type { Kysely, OnConflictBuilder } from 'kysely';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { hashSecretToken } from '../../crypto/tokens.js';
import type { Clock } from '../../shared/clock.js';
import { prepareQuery } from '../../storage/prepared-query.js';
import type { Database } from '../../storage/schema.js';

/**
 * What a client's sign-in grants an app: the grant, and the codes and tokens issued from it. Each
 * is over when its client is disabled or every session of the client was ended after the sign-in
 * it came from ("sign out everywhere", a password reset or change): the grant records the client's
 * session generation that sign-in saw, every token issued from the grant inherits it as it is
 * stored, and a row behind its client's generation is never found again. Nothing is deleted in a
 * race with a refresh in flight, so nothing issued in that race survives either.
 */
const grantedModels = new Set(['Grant', 'AuthorizationCode', 'AccessToken', 'RefreshToken']);

// Compiled once (prepareQuery), not per call: every token exchange and userinfo request runs
// several of these, and building a Kysely query costs more than SQLite takes to answer it.

/** A payload, with what decides whether a grant's code or token still holds: its client's state. */
const selectPayloadWithClient = prepareQuery((db, model: string, idHash: string, workspaceId: string) =>
  db
    .selectFrom('oidc_payloads')
    .leftJoin('clients', (join) => join.onRef('clients.id', '=', 'oidc_payloads.account_id').onRef('clients.workspace_id', '=', 'oidc_payloads.workspace_id'))
    .select(['oidc_payloads.payload', 'oidc_payloads.consumed_at', 'oidc_payloads.client_generation', 'clients.session_generation', 'clients.disabled_at', 'clients.id as client_id'])
    .where('oidc_payloads.model', '=', model)
    .where('oidc_payloads.id_hash', '=', idHash)
    .where('oidc_payloads.workspace_id', '=', workspaceId),
);

const selectSessionPayloadByUid = prepareQuery((db, model: string, uid: string, workspaceId: string) =>
  db.selectFrom('oidc_payloads').select('payload').where('model', '=', model).where('session_uid', '=', uid).where('workspace_id', '=', workspaceId),
);

/** Saving again updates what the payload says, never the generation, and only in its own workspace. */
const updatedOnConflict = (workspaceId: string) => (conflict: OnConflictBuilder<Database, 'oidc_payloads'>) =>
  conflict.columns(['model', 'id_hash']).doUpdateSet((eb) => ({
    payload: eb.ref('excluded.payload'),
    grant_id: eb.ref('excluded.grant_id'),
    session_uid: eb.ref('excluded.session_uid'),
    account_id: eb.ref('excluded.account_id'),
    app_id: eb.ref('excluded.app_id'),
    expires_at: eb.ref('excluded.expires_at'),
  })).where('oidc_payloads.workspace_id', '=', workspaceId);

const insertPayload = prepareQuery(
  (db, model: string, idHash: string, workspaceId: string, payload: string, grantId: string | null, sessionUid: string | null, accountId: string | null, appId: string | null, expiresAt: number | null) =>
    db
      .insertInto('oidc_payloads')
      .values({ model, id_hash: idHash, workspace_id: workspaceId, payload, grant_id: grantId, session_uid: sessionUid, account_id: accountId, app_id: appId, expires_at: expiresAt, client_generation: null })
      .onConflict(updatedOnConflict(workspaceId)),
);

/** A code or token of a grant: its client generation is its grant's, read in the same statement. */
const insertGrantedPayload = prepareQuery(
  (db, model: string, idHash: string, workspaceId: string, payload: string, grantId: string, sessionUid: string | null, accountId: string | null, appId: string | null, expiresAt: number | null, grantIdHash: string) =>
    db
      .insertInto('oidc_payloads')
      .values((eb) => ({
        model,
        id_hash: idHash,
        workspace_id: workspaceId,
        payload,
        grant_id: grantId,
        session_uid: sessionUid,
        account_id: accountId,
        app_id: appId,
        expires_at: expiresAt,
        client_generation: eb.selectFrom('oidc_payloads as grants').select('grants.client_generation').where('grants.model', '=', 'Grant').where('grants.id_hash', '=', grantIdHash).where('grants.workspace_id', '=', workspaceId),
      }))
      .onConflict(updatedOnConflict(workspaceId)),
);

/** Marks a code or refresh token used if nobody has: the row it returns says this call did. */
const markPayloadConsumed = prepareQuery((db, now: number, model: string, idHash: string, workspaceId: string) =>
  db.updateTable('oidc_payloads').set({ consumed_at: now }).where('model', '=', model).where('id_hash', '=', idHash).where('workspace_id', '=', workspaceId).where('consumed_at', 'is', null).returning('id_hash'),
);

/**
 * oidc-provider's storage on Portico's database (both dialects), one adapter per workspace and
 * model. Ids that are credentials (codes, tokens, its session cookie, interaction ids) are kept
 * only as their hash, like every token Portico issues: the id is taken out of the stored payload
 * and put back from the caller's own copy when found. Another workspace's row is never found.
 */
export class OidcStorageAdapter implements Adapter {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
    private readonly workspaceId: string,
    private readonly model: string,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    const stored: Record<string, unknown> = { ...payload };
    delete stored.jti;
    if (stored.uid === id) delete stored.uid;
    // An interaction keeps the id of oidc-provider's session (its cookie): only its hash is needed.
    const session = stored.session as { cookie?: string } | undefined;
    if (session?.cookie) stored.session = { ...session, cookie: hashSecretToken(session.cookie) };
    const now = this.clock.now();
    const grantId = typeof payload.grantId === 'string' ? payload.grantId : null;
    const row = {
      payload: JSON.stringify(stored),
      grant_id: grantId,
      session_uid: this.model === 'Session' && typeof payload.uid === 'string' ? payload.uid : null,
      account_id: typeof payload.accountId === 'string' ? payload.accountId : null,
      app_id: typeof payload.clientId === 'string' ? payload.clientId : null,
      expires_at: expiresIn ? now + expiresIn * 1000 : null,
    };
    const idHash = hashSecretToken(id);
    // A code or token inherits its grant's generation as it is stored, in the same statement.
    if (this.model !== 'Grant' && grantId !== null && grantedModels.has(this.model)) {
      await insertGrantedPayload(this.db, this.model, idHash, this.workspaceId, row.payload, grantId, row.session_uid, row.account_id, row.app_id, row.expires_at, hashSecretToken(grantId));
    } else {
      await insertPayload(this.db, this.model, idHash, this.workspaceId, row.payload, row.grant_id, row.session_uid, row.account_id, row.app_id, row.expires_at);
    }
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const [row] = await selectPayloadWithClient(this.db, this.model, hashSecretToken(id), this.workspaceId);
    if (!row) return undefined;
    if (grantedModels.has(this.model)) {
      const generation = row.client_generation;
      if (row.client_id === null || row.disabled_at !== null || generation === null || row.session_generation === null || generation < row.session_generation) return undefined;
    }
    const payload = JSON.parse(row.payload) as AdapterPayload;
    return {
      ...payload,
      jti: id,
      ...(payload.uid === undefined && this.model === 'Interaction' ? { uid: id } : {}),
      ...(row.consumed_at !== null ? { consumed: Math.floor(row.consumed_at / 1000) } : {}),
    };
  }

  /**
   * oidc-provider's session by its public uid, to check that an interaction still belongs to the
   * session it started in. Its id (the cookie) is kept only as a hash, so the session found has
   * none: it is read, never saved back, on that path.
   */
  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const [row] = await selectSessionPayloadByUid(this.db, this.model, uid, this.workspaceId);
    return row ? (JSON.parse(row.payload) as AdapterPayload) : undefined;
  }

  async findByUserCode(): Promise<AdapterPayload | undefined> {
    // Only the device flow looks codes up so, and it is not enabled.
    return undefined;
  }

  /**
   * Marks a code or refresh token used, once: of two requests that both found it unused (two
   * instances, one replayed code), only one marks it; the other revokes what the grant issued and
   * fails, as a replayed code must (RFC 6749 4.1.2).
   */
  async consume(id: string): Promise<void> {
    const idHash = hashSecretToken(id);
    const marked = await markPayloadConsumed(this.db, this.clock.now(), this.model, idHash, this.workspaceId);
    if (marked.length === 1) return;
    const row = await this.db.selectFrom('oidc_payloads').select('grant_id').where('model', '=', this.model).where('id_hash', '=', idHash).where('workspace_id', '=', this.workspaceId).executeTakeFirst();
    if (row?.grant_id) await this.revokeByGrantId(row.grant_id);
    throw new errors.InvalidGrant('grant already used');
  }

  async destroy(id: string): Promise<void> {
    await this.db.deleteFrom('oidc_payloads').where('model', '=', this.model).where('id_hash', '=', hashSecretToken(id)).where('workspace_id', '=', this.workspaceId).execute();
  }

  /** Everything issued from a grant, and the grant: one statement, whatever model asked. */
  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db
      .deleteFrom('oidc_payloads')
      .where('workspace_id', '=', this.workspaceId)
      .where((eb) => eb.or([eb('grant_id', '=', grantId), eb.and([eb('model', '=', 'Grant'), eb('id_hash', '=', hashSecretToken(grantId))])]))
      .execute();
  }
}

/**
 * Records the client's session generation a grant was made under: the generation of the Portico
 * session that signed in (sessions/sessions.ts). Set once, when the sign-in creates the grant.
 */
export async function recordGrantGeneration(db: Kysely<Database>, workspaceId: string, grantId: string, clientGeneration: number): Promise<void> {
  await db
    .updateTable('oidc_payloads')
    .set({ client_generation: clientGeneration })
    .where('model', '=', 'Grant')
    .where('id_hash', '=', hashSecretToken(grantId))
    .where('workspace_id', '=', workspaceId)
    .where('client_generation', 'is', null)
    .execute();
}

