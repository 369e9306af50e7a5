import type { Kysely, OnConflictBuilder } from 'kysely';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { hashSecretToken } from '../../crypto/tokens.js';
import type { Clock } from '../../shared/clock.js';
import { prepareQuery } from '../../storage/prepared-query.js';
import type { Database } from '../../storage/schema.js';

/**
 * What a client's sign-in grants an app: the grant, and the codes and tokens issued from it. The
 * grant row is the one source of truth for all of them: a code or token is found only while its
 * grant row exists, its client is enabled, and the client's session generation the grant recorded
 * at sign-in is still the client's. Disabling the client, or ending every session of it ("sign
 * out everywhere", a password reset or change), so ends them all at the next lookup; revoking the
 * grant (a replayed code) deletes the grant row, and with it whatever was issued from it, even a
 * token another instance stored a moment after the delete began.
 */
const grantedModels = new Set(['Grant', 'AuthorizationCode', 'AccessToken', 'RefreshToken']);

// Compiled once (prepareQuery), not per call: every token exchange and userinfo request runs
// several of these, and building a Kysely query costs more than SQLite takes to answer it.

/** A payload, with what decides whether a grant's code or token still holds: its grant row and its client. */
const selectPayloadWithGrantAndClient = prepareQuery((db, model: string, idHash: string, workspaceId: string) =>
  db
    .selectFrom('oidc_payloads as found')
    .leftJoin('oidc_payloads as grants', (join) =>
      join.onRef('grants.grant_id', '=', 'found.grant_id').onRef('grants.workspace_id', '=', 'found.workspace_id').on('grants.model', '=', 'Grant'),
    )
    .leftJoin('clients', (join) => join.onRef('clients.id', '=', 'found.account_id').onRef('clients.workspace_id', '=', 'found.workspace_id'))
    .select(['found.payload', 'found.consumed_at', 'grants.client_generation as grant_generation', 'clients.session_generation', 'clients.disabled_at', 'clients.id as client_id'])
    .where('found.model', '=', model)
    .where('found.id_hash', '=', idHash)
    .where('found.workspace_id', '=', workspaceId),
);

/** The columns that decide whether a grant's code or token still holds (see {@link grantStillHolds}). */
export interface GrantStanding {
  client_id: string | null;
  disabled_at: number | null;
  grant_generation: number | null;
  session_generation: number | null;
}

/**
 * A grant's code or token holds while its grant row exists with a recorded generation, its client
 * exists and is enabled, and no ending of the client's sessions came after the sign-in.
 */
export function grantStillHolds(row: GrantStanding): boolean {
  return row.client_id !== null && row.disabled_at === null && row.grant_generation !== null && row.session_generation !== null && row.grant_generation >= row.session_generation;
}

/** oidc-provider's session by its uid; should two rows ever share one (two tabs saving at once), always the same of them. */
export const selectSessionPayloadByUid = prepareQuery((db, model: string, uid: string, workspaceId: string) =>
  db.selectFrom('oidc_payloads').select('payload').where('model', '=', model).where('session_uid', '=', uid).where('workspace_id', '=', workspaceId).orderBy('id_hash').limit(1),
);

/** Saving again updates what the payload says, never a grant's generation, and only in its own workspace. */
const updatedOnConflict = (workspaceId: string) => (conflict: OnConflictBuilder<Database, 'oidc_payloads'>) =>
  conflict
    .columns(['model', 'id_hash'])
    .doUpdateSet((eb) => ({
      payload: eb.ref('excluded.payload'),
      grant_id: eb.ref('excluded.grant_id'),
      session_uid: eb.ref('excluded.session_uid'),
      account_id: eb.ref('excluded.account_id'),
      app_id: eb.ref('excluded.app_id'),
      expires_at: eb.ref('excluded.expires_at'),
    }))
    .where('oidc_payloads.workspace_id', '=', workspaceId);

const insertPayload = prepareQuery(
  (db, model: string, idHash: string, workspaceId: string, payload: string, grantId: string | null, sessionUid: string | null, accountId: string | null, appId: string | null, expiresAt: number | null) =>
    db
      .insertInto('oidc_payloads')
      .values({ model, id_hash: idHash, workspace_id: workspaceId, payload, grant_id: grantId, session_uid: sessionUid, account_id: accountId, app_id: appId, expires_at: expiresAt, client_generation: null })
      .onConflict(updatedOnConflict(workspaceId)),
);

/** Marks a code or refresh token used if nobody has: the row it returns says this call did. */
const markPayloadConsumed = prepareQuery((db, now: number, model: string, idHash: string, workspaceId: string) =>
  db.updateTable('oidc_payloads').set({ consumed_at: now }).where('model', '=', model).where('id_hash', '=', idHash).where('workspace_id', '=', workspaceId).where('consumed_at', 'is', null).returning('id_hash'),
);

/**
 * oidc-provider's storage on Portico's database (both dialects), one adapter per workspace and
 * model. Ids that are bearer credentials (codes, access and refresh tokens, oidc-provider's
 * session cookie) are kept only as their hash, like every token Portico issues: the id is taken
 * out of the stored payload and put back from the caller's own copy when found. Grant ids and
 * interaction ids are kept as they are: neither opens anything alone (an interaction also needs
 * its signed cookie). Another workspace's row is never found.
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
    // A grant row carries its own id as grant_id, so tokens find their grant by it (find, below).
    const grantId = this.model === 'Grant' ? id : typeof payload.grantId === 'string' ? payload.grantId : null;
    const row = {
      payload: JSON.stringify(stored),
      grant_id: grantId,
      // A session's own uid; a code's or token's, the session it ends with (userinfo.ts joins them).
      session_uid: this.model === 'Session' ? (typeof payload.uid === 'string' ? payload.uid : null) : typeof payload.sessionUid === 'string' ? payload.sessionUid : null,
      account_id: typeof payload.accountId === 'string' ? payload.accountId : null,
      app_id: typeof payload.clientId === 'string' ? payload.clientId : null,
      expires_at: expiresIn ? now + expiresIn * 1000 : null,
    };
    await insertPayload(this.db, this.model, hashSecretToken(id), this.workspaceId, row.payload, row.grant_id, row.session_uid, row.account_id, row.app_id, row.expires_at);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const [row] = await selectPayloadWithGrantAndClient(this.db, this.model, hashSecretToken(id), this.workspaceId);
    if (!row) return undefined;
    if (grantedModels.has(this.model) && !grantStillHolds(row)) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    return {
      ...payload,
      jti: id,
      ...(payload.uid === undefined && this.model === 'Interaction' ? { uid: id } : {}),
      ...(row.consumed_at !== null ? { consumed: Math.floor(row.consumed_at / 1000) } : {}),
    };
  }

  /**
   * oidc-provider's session by its public uid: to check that an interaction still belongs to the
   * session it started in, and that a code or token bound to a session still has it (as userinfo.ts
   * does in its one statement). Its id (the cookie) is kept only as a hash, so the session found has
   * none: it is read, never saved back, on these paths.
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

  /**
   * Everything issued from a grant, and the grant: one statement, whatever model asked. Not the
   * interaction that may hold the grant's id: a sign-in step under way stays usable.
   */
  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db
      .deleteFrom('oidc_payloads')
      .where('workspace_id', '=', this.workspaceId)
      .where('grant_id', '=', grantId)
      .where('model', 'in', [...grantedModels])
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

