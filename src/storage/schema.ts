import type { ColumnType, Generated } from 'kysely';

/** Times are integer milliseconds since the epoch in both dialects, so comparisons are plain numbers. */
export interface WorkspaceTable {
  id: string;
  slug: string;
  name: string;
  /** The origin clients use, e.g. `https://portal.acme.example`; every link is built from it. */
  url: string;
  /** `host[:port]` as it appears in a `Host` header, lower-case, default port omitted. */
  host: string;
  magic_link_ttl_ms: number;
  mail_from: string | null;
  created_at: number;
  /** Per-workspace overrides of the abuse limits; null: the environment's default. */
  limit_email_cooldown_ms: number | null;
  limit_emails_per_hour: number | null;
  limit_ip_per_minute: number | null;
  limit_redemptions_per_5_minutes: number | null;
  limit_workspace_emails_per_hour: number | null;
  /** Where `/` sends a signed-out visitor (migration 0010; `email` when not given). */
  default_door: ColumnType<DefaultDoor, DefaultDoor | undefined, DefaultDoor>;
  /** The workspace's language (one of `src/i18n/locales.ts`), for a browser that prefers none shipped (migration 0014). */
  locale: ColumnType<string, string | undefined, string>;
  /** `#rrggbb`, checked for contrast when set; null: Portico's own blue. */
  accent_color: string | null;
  /** Reply-To of every mail; null: none. */
  reply_to: string | null;
  /** Shown on error pages as where to ask for help; null: none shown. */
  support_email: string | null;
  /** sha256 (hex) of the logo in `workspace_logos`; null: the name alone. */
  logo_hash: string | null;
}

/** A workspace's logo, by the hash of its bytes (migration 0014), keyed by workspace and hash. */
export interface WorkspaceLogoTable {
  hash: string;
  workspace_id: string;
  content_type: 'image/png' | 'image/jpeg' | 'image/webp';
  data_base64: string;
  created_at: number;
}

/** A workspace's default door: the email-link page or the password page. */
export type DefaultDoor = 'email' | 'password';

export interface ClientTable {
  id: string;
  workspace_id: string;
  /** As the operator entered it; mail goes to this exact address. */
  email: string;
  /** Lower-cased, for case-insensitive matching and the unique key. */
  email_normalized: string;
  name: string;
  password_hash: string | null;
  disabled_at: number | null;
  created_at: number;
  /** How many times every session of the client was ended; a session recording fewer is over. */
  session_generation: Generated<number>;
  /** The language of the browser the client last asked from (migration 0014); null: never asked. */
  last_locale: string | null;
}

export interface MagicLinkTable {
  token_hash: string;
  workspace_id: string;
  client_id: string;
  /** Hash of the secret cookie of the browser that asked for the link, to tell it apart from others. */
  browser_binding_hash: string | null;
  next_path: string | null;
  created_at: number;
  expires_at: number;
  ended_at: number | null;
  /** `used` for the link that signed in, `superseded` for the client's other links that died with it. */
  end_reason: string | null;
  /** Keyed hash of the one-time code mailed beside the link (magic-links/sign-in-code.ts); null for links from before codes. */
  code_hash: ColumnType<string | null, string | null | undefined, string | null>;
  /** Guesses compared against the code; at the cap the code is dead (the link is not). */
  code_attempts: Generated<number>;
  /** `sign_in` for the everyday link, `invitation` for the one `portico client invite` sends. */
  purpose: Generated<string>;
}

export interface SessionTable {
  id_hash: string;
  workspace_id: string;
  client_id: string;
  sign_in_method: string;
  user_agent: string;
  ip: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  /** The client's `session_generation` when the sign-in checked it: behind the client's, the session is over. */
  client_generation: Generated<number>;
}

/**
 * A session ended from elsewhere, kept only to tell its browser why on the next visit: the
 * session's id hash, the reason, and until when (the session's own expiry).
 */
export interface EndedSessionTable {
  id_hash: string;
  workspace_id: string;
  reason: string;
  ended_at: number;
  expires_at: number;
}

export interface OutboxTable {
  id: string;
  workspace_id: string;
  template: string;
  recipient: string;
  /**
   * JSON the template needs. A mail carrying a link is queued as a request (`*-request`) that holds
   * no secret: the worker mints the link's token just before handing the mail to SMTP (issue 13).
   */
  payload: string;
  /** Times the row was claimed. */
  attempts: number;
  /** Failed attempts other than the mail server being unreachable; a few, and the row is given up. */
  failures: Generated<number>;
  /** When the mail took its place under the workspace's hourly email ceiling; null until then. */
  counted_at: number | null;
  next_attempt_at: number;
  lease_until: number | null;
  give_up_at: number;
  last_error: string | null;
  created_at: number;
}

export interface EventTable {
  id: Generated<number>;
  workspace_id: string;
  at: number;
  type: string;
  email: string | null;
  ip: string | null;
  detail: string | null;
}

/** One counter per limited thing (an IP at a door, an email address), in fixed windows. */
export interface RateLimitTable {
  key: string;
  window_start: number;
  hits: number;
  last_hit_at: number;
  /** Random id of the last hit that was let through, so a caller can tell its own hit was counted. */
  last_hit_id: string;
}

/** Single-use password reset links, stored as hashes like sign-in links. */
export interface PasswordResetTable {
  token_hash: string;
  workspace_id: string;
  client_id: string;
  created_at: number;
  expires_at: number;
  ended_at: number | null;
}

/** An app registered to rely on a workspace's sign-in (OpenID Connect, issue 15). */
export interface AppTable {
  client_id: string;
  workspace_id: string;
  name: string;
  /** sha256 of the client secret, hex; null for a public app, which proves itself with PKCE alone. */
  secret_hash: string | null;
  /** JSON arrays of exact URIs. */
  redirect_uris: string;
  post_logout_redirect_uris: string;
  created_at: number;
}

/** A workspace's keys for signing ID tokens; the newest signs, retired ones stay published a while. */
export interface SigningKeyTable {
  kid: string;
  workspace_id: string;
  private_jwk: string;
  created_at: number;
  retire_at: number | null;
}

/** What oidc-provider stores: one row per model and id, the id kept only as its hash. */
export interface OidcPayloadTable {
  model: string;
  id_hash: string;
  workspace_id: string;
  payload: string;
  grant_id: string | null;
  /** A Session's own uid; a code's or token's, the uid of the session it ends with (since migration 0015). */
  session_uid: string | null;
  account_id: string | null;
  app_id: string | null;
  client_generation: number | null;
  expires_at: number | null;
  consumed_at: number | null;
}

/** A key to the admin API of one workspace (issue 19), stored only as its hash. */
export interface ApiKeyTable {
  id: string;
  workspace_id: string;
  name: string;
  /** sha256 of the key, base64url. */
  key_hash: string;
  created_at: number;
  revoked_at: number | null;
}

/** The first answer to an admin API request sent with an `Idempotency-Key`, kept a day. */
export interface IdempotentRequestTable {
  api_key_id: string;
  idempotency_key: string;
  fingerprint: string;
  status: number;
  /** The answer's JSON body. */
  body: string;
  created_at: number;
}

/** Where a workspace's webhooks go (issue 19 item 2). */
export interface WebhookEndpointTable {
  id: string;
  workspace_id: string;
  url: string;
  /** JSON array of event types; `["*"]` for all. */
  events: string;
  /** The signing secret, `whsec_…` (SECURITY.md says why it is stored as is). */
  secret: string;
  created_at: number;
}

/** One event for one endpoint: the webhook outbox, kept after delivery as its record. */
export interface WebhookDeliveryTable {
  /** The `webhook-id`, the same on every retry and for every endpoint of the event. */
  event_id: string;
  endpoint_id: string;
  workspace_id: string;
  type: string;
  /** The JSON body sent, exactly as signed. */
  payload: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: Generated<number>;
  next_attempt_at: number;
  lease_until: number | null;
  give_up_at: number;
  created_at: number;
  finished_at: number | null;
}

/** One attempt to deliver a webhook, whatever came of it. */
export interface WebhookAttemptTable {
  id: Generated<number>;
  workspace_id: string;
  endpoint_id: string;
  event_id: string;
  type: string;
  attempt: number;
  at: number;
  status_code: number | null;
  error: string | null;
  /** 1 for a 2xx answer, else 0. */
  delivered: number;
}

export interface Database {
  webhook_endpoints: WebhookEndpointTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_attempts: WebhookAttemptTable;
  api_keys: ApiKeyTable;
  idempotent_requests: IdempotentRequestTable;
  apps: AppTable;
  signing_keys: SigningKeyTable;
  oidc_payloads: OidcPayloadTable;
  password_resets: PasswordResetTable;
  rate_limits: RateLimitTable;
  workspaces: WorkspaceTable;
  workspace_logos: WorkspaceLogoTable;
  clients: ClientTable;
  magic_links: MagicLinkTable;
  sessions: SessionTable;
  ended_sessions: EndedSessionTable;
  outbox: OutboxTable;
  events: EventTable;
}
