import { describe, expect, it } from 'vitest';
import { type Config, loadConfig } from './config.js';

function configFrom(env: Record<string, string>): Config {
  const result = loadConfig(env);
  if (!result.ok) throw new Error(`expected a config, got problems: ${result.problems.join('; ')}`);
  return result.config;
}

function problemsFrom(env: Record<string, string>): string[] {
  const result = loadConfig(env);
  if (result.ok) throw new Error(`expected problems for ${JSON.stringify(env)}, got a config`);
  return result.problems;
}

describe('loadConfig', () => {
  it('starts with safe defaults from an empty environment', () => {
    expect(configFrom({})).toEqual({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: 'sqlite:data/portico.sqlite',
      smtpUrl: null,
      mailFrom: 'Portico <no-reply@localhost>',
      production: false,
      trustProxy: false,
      limits: { emailCooldownMs: 60_000, emailsPerHour: 5, ipRequestsPerMinute: 10, redemptionsPer5Minutes: 30, workspaceEmailsPerHour: 1000, codeGuessesPerClientPerHour: 20, codeGuessesPerIpPerHour: 30 },
      session: { idleTimeoutMs: 7 * 86_400_000, maxAgeMs: 30 * 86_400_000 },
      logLevel: 'info',
      outboxLeaseMs: 60_000,
      databasePoolSize: 10,
      eventsRetentionMs: 365 * 86_400_000,
      tokenRequestsPerMinute: 600,
      signInCodeKey: 'portico: SIGN_IN_CODE_KEY unset',
      signInCodeKeySet: false,
      apiRequestsPerMinute: 600,
      metrics: null,
      outboxStuckAfterMs: 5 * 60_000,
      webhooks: { allowPrivate: false, timeoutMs: 10_000 },
    });
  });

  it('treats blank values as unset', () => {
    expect(configFrom({ PORT: '', HOST: ' ', MAIL_FROM: ' ', DATABASE_URL: '' })).toEqual(configFrom({}));
  });

  it('reads every variable it is given', () => {
    const config = configFrom({
      PORT: ' 8080 ',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://portico@db:5432/portico',
      SMTP_URL: 'smtps://user:pass@mail.example:465',
      MAIL_FROM: 'Acme <login@acme.example>',
      NODE_ENV: 'production',
      TRUST_PROXY: '1',
      LIMIT_EMAIL_COOLDOWN: '2m',
      LIMIT_EMAIL_PER_HOUR: '20',
      LIMIT_IP_PER_MINUTE: '100',
      LIMIT_IP_REDEMPTIONS_PER_5_MINUTES: '60',
      LIMIT_WORKSPACE_EMAILS_PER_HOUR: '250',
      SESSION_IDLE_TIMEOUT: '1d',
      SESSION_MAX_AGE: '14d',
      LOG_LEVEL: 'debug',
      OUTBOX_LEASE: '2m',
      DATABASE_POOL_SIZE: '25',
      EVENTS_RETENTION: '90d',
      LIMIT_IP_TOKEN_PER_MINUTE: '120',
      LIMIT_CODE_GUESSES_PER_CLIENT_PER_HOUR: '12',
      LIMIT_CODE_GUESSES_PER_IP_PER_HOUR: '40',
      SIGN_IN_CODE_KEY: 'k'.repeat(32),
      LIMIT_API_PER_MINUTE: '30',
      METRICS_PORT: '9464',
      METRICS_HOST: '10.0.0.5',
      OUTBOX_STUCK_AFTER: '10m',
    });
    expect(config).toEqual({
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://portico@db:5432/portico',
      smtpUrl: 'smtps://user:pass@mail.example:465',
      mailFrom: 'Acme <login@acme.example>',
      production: true,
      trustProxy: 1,
      limits: { emailCooldownMs: 120_000, emailsPerHour: 20, ipRequestsPerMinute: 100, redemptionsPer5Minutes: 60, workspaceEmailsPerHour: 250, codeGuessesPerClientPerHour: 12, codeGuessesPerIpPerHour: 40 },
      session: { idleTimeoutMs: 86_400_000, maxAgeMs: 14 * 86_400_000 },
      logLevel: 'debug',
      outboxLeaseMs: 120_000,
      databasePoolSize: 25,
      eventsRetentionMs: 90 * 86_400_000,
      tokenRequestsPerMinute: 120,
      signInCodeKey: 'k'.repeat(32),
      signInCodeKeySet: true,
      apiRequestsPerMinute: 30,
      metrics: { host: '10.0.0.5', port: 9464 },
      outboxStuckAfterMs: 10 * 60_000,
      webhooks: { allowPrivate: false, timeoutMs: 10_000 },
    });
  });

  it('reads the webhook settings: internal addresses refused by default, a bounded timeout', () => {
    const defaults = loadConfig({});
    expect(defaults.ok && defaults.config.webhooks).toEqual({ allowPrivate: false, timeoutMs: 10_000 });
    const given = loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_TIMEOUT: '3s' });
    expect(given.ok && given.config.webhooks).toEqual({ allowPrivate: true, timeoutMs: 3000 });
    const bad = loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'yes', WEBHOOK_TIMEOUT: '5m' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems).toEqual([
        'WEBHOOK_ALLOW_PRIVATE: "yes" must be true or false',
        expect.stringMatching(/^WEBHOOK_TIMEOUT: must be at most 60s/),
      ]);
    }
  });

  it('refuses a SIGN_IN_CODE_KEY too short to be a secret, naming the variable and how to make one', () => {
    const parsed = loadConfig({ SIGN_IN_CODE_KEY: 'hunter2' });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems).toEqual([expect.stringMatching(/^SIGN_IN_CODE_KEY: must be at least 32 characters; make one with `openssl rand -base64 32`/)]);
    for (const name of ['LIMIT_CODE_GUESSES_PER_CLIENT_PER_HOUR', 'LIMIT_CODE_GUESSES_PER_IP_PER_HOUR']) {
      const bad = loadConfig({ [name]: '0' });
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(bad.problems).toEqual([expect.stringMatching(new RegExp(`^${name}: "0" is not a whole number`))]);
    }
  });

  it('freezes the config and its groups', () => {
    const config = configFrom({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(Object.isFrozen(config.session)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  // Bug: the list of trusted proxies is the one part left mutable; a later push would widen who
  // may set X-Forwarded-For, which decides the client IP the rate limits count.
  it('freezes the list of trusted proxies too', () => {
    const config = configFrom({ TRUST_PROXY: '10.0.0.0/8' });
    expect(Object.isFrozen(config.trustProxy)).toBe(true);
  });

  it.each([
    ['TRUST_PROXY', '10.0.0.0/8, 192.168.1.1', ['10.0.0.0/8', '192.168.1.1']],
    ['TRUST_PROXY', '::1/128', ['::1/128']],
    ['TRUST_PROXY', '2', 2],
    ['TRUST_PROXY', 'true', true],
    ['TRUST_PROXY', 'false', false],
  ])('reads %s=%j', (_name, value, expected) => {
    expect(configFrom({ TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it('serves metrics only when METRICS_PORT is set, on loopback unless told otherwise', () => {
    expect(configFrom({ METRICS_PORT: '9464' }).metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(configFrom({ METRICS_HOST: '0.0.0.0' }).metrics).toBeNull();
    // PORT=0 and METRICS_PORT=0 each pick a free port of their own: never the same one.
    expect(configFrom({ PORT: '0', METRICS_PORT: '0' }).metrics).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('accepts a cooldown of 0 (no cooldown) and PORT=0 (any free port)', () => {
    expect(configFrom({ LIMIT_EMAIL_COOLDOWN: '0' }).limits.emailCooldownMs).toBe(0);
    expect(configFrom({ PORT: '0' }).port).toBe(0);
  });

  it('accepts production with an SMTP server', () => {
    expect(configFrom({ NODE_ENV: 'production', SMTP_URL: 'smtp://mail.example:587' })).toMatchObject({ production: true, smtpUrl: 'smtp://mail.example:587' });
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '3e3' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['DATABASE_URL', { DATABASE_URL: 'sqlite:' }],
    ['SMTP_URL', { SMTP_URL: 'http://x' }],
    ['SMTP_URL', { SMTP_URL: 'nonsense' }],
    ['SMTP_URL', { SMTP_URL: 'smtp://' }],
    ['SMTP_URL', { NODE_ENV: 'production' }],
    ['TRUST_PROXY', { TRUST_PROXY: 'banana' }],
    ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.0/33' }],
    ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.1, banana' }],
    ['TRUST_PROXY', { TRUST_PROXY: ',' }],
    ['LIMIT_EMAIL_COOLDOWN', { LIMIT_EMAIL_COOLDOWN: 'soon' }],
    ['LIMIT_EMAIL_PER_HOUR', { LIMIT_EMAIL_PER_HOUR: '0' }],
    ['LIMIT_IP_PER_MINUTE', { LIMIT_IP_PER_MINUTE: 'many' }],
    ['LIMIT_IP_TOKEN_PER_MINUTE', { LIMIT_IP_TOKEN_PER_MINUTE: '0' }],
    ['SESSION_IDLE_TIMEOUT', { SESSION_IDLE_TIMEOUT: '0' }],
    ['SESSION_MAX_AGE', { SESSION_MAX_AGE: '0' }],
    // issue 13 item 5: a retention of no time would empty the audit log at every purge.
    ['EVENTS_RETENTION', { EVENTS_RETENTION: '0' }],
    ['EVENTS_RETENTION', { EVENTS_RETENTION: 'a year' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['METRICS_PORT', { METRICS_PORT: 'ninety' }],
    ['METRICS_PORT', { METRICS_PORT: '70000' }],
    // Issue 19: metrics are never served on the address the workspaces are served on.
    ['METRICS_PORT', { METRICS_PORT: '3000' }],
    ['METRICS_PORT', { PORT: '8080', METRICS_PORT: '8080' }],
    ['METRICS_HOST', { METRICS_PORT: '9464', METRICS_HOST: 'metrics.example.com/x' }],
    ['OUTBOX_STUCK_AFTER', { OUTBOX_STUCK_AFTER: '0' }],
    ['OUTBOX_STUCK_AFTER', { OUTBOX_STUCK_AFTER: 'later' }],
  ])('refuses to start on a bad %s (%j), naming the variable', (name, env) => {
    const problems = problemsFrom(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: `));
  });

  it('says how to fix what it refuses', () => {
    expect(problemsFrom({ NODE_ENV: 'production' })[0]).toContain('smtp://');
    expect(problemsFrom({ DATABASE_URL: 'mysql://x' })[0]).toMatch(/sqlite:.*postgres:\/\//);
    expect(problemsFrom({ LOG_LEVEL: 'loud' })[0]).toContain('debug');
    expect(problemsFrom({ PORT: '70000' })[0]).toContain('65535');
    expect(problemsFrom({ TRUST_PROXY: 'banana' })[0]).toContain('10.0.0.0/8');
  });

  // Bug: readDuration returns 0 for text it cannot read, so the "must be longer than 0" check
  // then adds a second, false problem for the same variable.
  it.each([
    ['SESSION_MAX_AGE', 'soon'],
    ['SESSION_IDLE_TIMEOUT', 'forever'],
  ])('reports one problem, not two, for an unreadable %s=%j', (name, value) => {
    const problems = problemsFrom({ [name]: value });
    expect(problems).toEqual([expect.stringContaining(`"${value}" is not a duration`)]);
  });

  it('lists every problem at once', () => {
    const problems = problemsFrom({ PORT: 'abc', DATABASE_URL: 'mysql://x', TRUST_PROXY: 'banana', LOG_LEVEL: 'loud' });
    expect(problems.map((problem) => problem.split(':')[0])).toEqual(['PORT', 'DATABASE_URL', 'TRUST_PROXY', 'LOG_LEVEL']);
  });
});
