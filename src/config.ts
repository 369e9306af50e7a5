import { isIP } from 'node:net';
import { parseDuration } from './shared/duration.js';
import type { Limits } from './rate-limits/limits.js';
import { isSupportedDatabaseUrl, redactDatabaseUrl } from './storage/database-url.js';

/** Everything Portico reads from the environment, parsed once at start-up and frozen. */
export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  /** `null` outside production means: deliver to the dev mailbox and the console. */
  readonly smtpUrl: string | null;
  readonly mailFrom: string;
  readonly production: boolean;
  /** What Fastify's `trustProxy` accepts: `false`, `true`, a hop count or a list of addresses/CIDRs. */
  readonly trustProxy: boolean | number | readonly string[];
  readonly limits: Limits;
  readonly session: {
    readonly idleTimeoutMs: number;
    readonly maxAgeMs: number;
  };
  readonly logLevel: string;
  /** How long an instance may hold claimed mail before another instance takes it over. */
  readonly outboxLeaseMs: number;
  /** Connections each instance keeps to PostgreSQL. */
  readonly databasePoolSize: number;
  /** How long audit events are kept: they hold email and IP addresses (personal data). */
  readonly eventsRetentionMs: number;
  /**
   * Requests per client IP per minute on an app's back-channel endpoints (token, revocation,
   * introspection): an app's server exchanges codes for all its users from one address, so this
   * is far above the doors' limit, and still caps guessing of client secrets and codes.
   */
  readonly tokenRequestsPerMinute: number;
  /**
   * The key sign-in codes are hashed under (HMAC-SHA-256), from SIGN_IN_CODE_KEY. Kept out of the
   * database, so a copy of it does not give the codes away; `signInCodeKeySet` is false when the
   * variable is unset and a fixed, public key stands in (SECURITY.md says what that leaves open).
   */
  readonly signInCodeKey: string;
  readonly signInCodeKeySet: boolean;
  /** Requests per admin API key per minute (`/api/v1/`), so a runaway script cannot flood a workspace. */
  readonly apiRequestsPerMinute: number;
  /** Where `/metrics` is served, on a listener of its own; null (METRICS_PORT unset): not served. */
  readonly metrics: { readonly host: string; readonly port: number } | null;
  /** `/healthz/ready` fails once a due mail has waited this long: the outbox is stuck. */
  readonly outboxStuckAfterMs: number;
  readonly webhooks: {
    /** WEBHOOK_ALLOW_PRIVATE: webhooks may go to loopback, private and link-local addresses. */
    readonly allowPrivate: boolean;
    /** WEBHOOK_TIMEOUT: how long one delivery attempt may take before it counts as failed. */
    readonly timeoutMs: number;
  };
}

/** Stands in for SIGN_IN_CODE_KEY when it is unset: public, so it protects nothing (SECURITY.md). */
const unsetSignInCodeKey = 'portico: SIGN_IN_CODE_KEY unset';

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

type Env = Record<string, string | undefined>;

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses the environment; every problem is reported at once, each naming its variable and a fix. */
export function loadConfig(env: Env = process.env): ConfigResult {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';

  const port = readInteger(env, 'PORT', 3000, 0, 65535, problems);
  const host = env.HOST?.trim() || '0.0.0.0';
  const databaseUrl = readDatabaseUrl(env, problems);
  const smtpUrl = readSmtpUrl(env, production, problems);
  const mailFrom = env.MAIL_FROM?.trim() || 'Portico <no-reply@localhost>';
  const trustProxy = readTrustProxy(env, problems);
  const emailCooldownMs = readDuration(env, 'LIMIT_EMAIL_COOLDOWN', '60s', problems);
  const emailsPerHour = readInteger(env, 'LIMIT_EMAIL_PER_HOUR', 5, 1, 1_000_000, problems);
  const ipRequestsPerMinute = readInteger(env, 'LIMIT_IP_PER_MINUTE', 10, 1, 1_000_000_000, problems);
  const redemptionsPer5Minutes = readInteger(env, 'LIMIT_IP_REDEMPTIONS_PER_5_MINUTES', 30, 1, 1_000_000_000, problems);
  const workspaceEmailsPerHour = readInteger(env, 'LIMIT_WORKSPACE_EMAILS_PER_HOUR', 1000, 1, 1_000_000_000, problems);
  const tokenRequestsPerMinute = readInteger(env, 'LIMIT_IP_TOKEN_PER_MINUTE', 600, 1, 1_000_000_000, problems);
  const codeGuessesPerClientPerHour = readInteger(env, 'LIMIT_CODE_GUESSES_PER_CLIENT_PER_HOUR', 20, 1, 1_000_000, problems);
  const codeGuessesPerIpPerHour = readInteger(env, 'LIMIT_CODE_GUESSES_PER_IP_PER_HOUR', 30, 1, 1_000_000_000, problems);
  const signInCodeKey = env.SIGN_IN_CODE_KEY?.trim() ?? '';
  if (signInCodeKey && signInCodeKey.length < 32) problems.push('SIGN_IN_CODE_KEY: must be at least 32 characters; make one with `openssl rand -base64 32`');
  const apiRequestsPerMinute = readInteger(env, 'LIMIT_API_PER_MINUTE', 600, 1, 1_000_000_000, problems);
  const idleTimeoutMs = readDuration(env, 'SESSION_IDLE_TIMEOUT', '7d', problems, 'such as 7d');
  const maxAgeMs = readDuration(env, 'SESSION_MAX_AGE', '30d', problems, 'such as 30d');
  const outboxLeaseMs = readDuration(env, 'OUTBOX_LEASE', '60s', problems, 'such as 60s');
  if (outboxLeaseMs > 0 && outboxLeaseMs < 1000) problems.push('OUTBOX_LEASE: must be at least 1s, longer than one mail takes to send');
  const databasePoolSize = readInteger(env, 'DATABASE_POOL_SIZE', 10, 1, 1000, problems);
  const eventsRetentionMs = readDuration(env, 'EVENTS_RETENTION', '365d', problems, 'such as 365d');
  const metrics = readMetricsListener(env, port, problems);
  const outboxStuckAfterMs = readDuration(env, 'OUTBOX_STUCK_AFTER', '5m', problems, 'such as 5m');
  const webhookAllowPrivate = readBoolean(env, 'WEBHOOK_ALLOW_PRIVATE', false, problems);
  const webhookTimeoutMs = readDuration(env, 'WEBHOOK_TIMEOUT', '10s', problems, 'such as 10s');
  if (webhookTimeoutMs > 60_000) problems.push('WEBHOOK_TIMEOUT: must be at most 60s; a receiver should answer at once and do its work afterwards');
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!logLevels.includes(logLevel)) problems.push(`LOG_LEVEL: "${logLevel}" is not one of ${logLevels.join(', ')}`);

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    config: Object.freeze({
      port,
      host,
      databaseUrl,
      smtpUrl,
      mailFrom,
      production,
      trustProxy,
      limits: Object.freeze({ emailCooldownMs, emailsPerHour, ipRequestsPerMinute, redemptionsPer5Minutes, workspaceEmailsPerHour, codeGuessesPerClientPerHour, codeGuessesPerIpPerHour }),
      session: Object.freeze({ idleTimeoutMs, maxAgeMs }),
      logLevel,
      outboxLeaseMs,
      databasePoolSize,
      eventsRetentionMs,
      tokenRequestsPerMinute,
      signInCodeKey: signInCodeKey || unsetSignInCodeKey,
      signInCodeKeySet: signInCodeKey !== '',
      apiRequestsPerMinute,
      metrics,
      outboxStuckAfterMs,
      webhooks: Object.freeze({ allowPrivate: webhookAllowPrivate, timeoutMs: webhookTimeoutMs }),
    }),
  };
}

function readBoolean(env: Env, name: string, fallback: boolean, problems: string[]): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  problems.push(`${name}: "${env[name]!.trim()}" must be true or false`);
  return fallback;
}

function readInteger(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    problems.push(`${name}: "${raw}" is not a whole number from ${min} to ${max}`);
    return fallback;
  }
  return Number(raw);
}

/** Reads a duration; with `positiveExample`, 0 is refused (a session cannot last no time). */
function readDuration(env: Env, name: string, fallback: string, problems: string[], positiveExample?: string): number {
  const parsed = parseDuration(env[name]?.trim() || fallback);
  if (!parsed.ok) {
    problems.push(`${name}: ${parsed.reason}`);
    return 0;
  }
  if (positiveExample && parsed.milliseconds === 0) problems.push(`${name}: must be longer than 0, ${positiveExample}`);
  return parsed.milliseconds;
}

/**
 * METRICS_PORT unset: no metrics listener. Set: its own listener on METRICS_HOST (loopback by
 * default), never the port that serves the workspaces, whose addresses the public reaches.
 */
function readMetricsListener(env: Env, port: number, problems: string[]): Config['metrics'] {
  const raw = env.METRICS_PORT?.trim();
  if (!raw) return null;
  const metricsPort = readInteger(env, 'METRICS_PORT', 0, 0, 65535, problems);
  if (metricsPort !== 0 && metricsPort === port) {
    problems.push(`METRICS_PORT: ${metricsPort} is also PORT; metrics are never served on the workspaces' address, so pick another port (such as 9464)`);
  }
  const host = env.METRICS_HOST?.trim() || '127.0.0.1';
  if (isIP(host) === 0 && host !== 'localhost') problems.push(`METRICS_HOST: "${host}" is not an IP address; use 127.0.0.1 (the default), or the address of a private interface`);
  return Object.freeze({ host, port: metricsPort });
}

function readDatabaseUrl(env: Env, problems: string[]): string {
  const raw = env.DATABASE_URL?.trim() || 'sqlite:data/portico.sqlite';
  if (isSupportedDatabaseUrl(raw)) return raw;
  problems.push(`DATABASE_URL: "${redactDatabaseUrl(raw)}" is neither sqlite:<path> nor postgres://user@host:port/database`);
  return raw;
}

function readSmtpUrl(env: Env, production: boolean, problems: string[]): string | null {
  const raw = env.SMTP_URL?.trim();
  if (!raw) {
    if (production) {
      problems.push('SMTP_URL: required when NODE_ENV=production, or sign-in emails would go nowhere; set it to smtp://user:pass@host:587 or smtps://user:pass@host:465');
    }
    return null;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push('SMTP_URL: not a URL; write smtp://user:pass@host:port or smtps://user:pass@host:port');
    return null;
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    problems.push(`SMTP_URL: the scheme must be smtp: or smtps:, not ${url.protocol}`);
  }
  if (!url.hostname) problems.push('SMTP_URL: the host is missing');
  return raw;
}

function readTrustProxy(env: Env, problems: string[]): boolean | number | readonly string[] {
  const raw = env.TRUST_PROXY?.trim();
  if (!raw || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = raw.split(',').map((entry) => entry.trim()).filter(Boolean);
  const invalid = entries.filter((entry) => !isAddressOrCidr(entry));
  if (entries.length === 0 || invalid.length > 0) {
    problems.push(`TRUST_PROXY: "${raw}" must be true, a hop count such as 1, or a comma-separated list of addresses or CIDRs such as 10.0.0.0/8`);
    return false;
  }
  return Object.freeze(entries);
}

function isAddressOrCidr(entry: string): boolean {
  const [address, bits, extra] = entry.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}
