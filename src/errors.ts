/**
 * Every failure a request or a command can meet, in one registry (after Fastify's error codes).
 * Pages and the CLI show `message`, never an exception's own text; `cause` is kept for the logs.
 */
export const errorRegistry = {
  WORKSPACE_NOT_FOUND: { status: 404, message: 'No workspace is served at this address.' },
  WORKSPACE_SLUG_TAKEN: { status: 409, message: 'A workspace with this slug already exists.' },
  WORKSPACE_URL_TAKEN: { status: 409, message: 'Another workspace is already served at this URL.' },
  WORKSPACE_URL_INVALID: {
    status: 400,
    message: 'The workspace URL must be an origin like https://portal.example.com or http://localhost:3000, with no path, query or credentials.',
  },
  WORKSPACE_SLUG_INVALID: {
    status: 400,
    message: 'A slug is 1 to 63 lower-case letters, digits and dashes, starting with a letter or digit.',
  },
  WORKSPACE_NAME_INVALID: { status: 400, message: 'A workspace name is 1 to 100 characters, without line breaks, control characters or text-direction overrides.' },
  MAGIC_LINK_TTL_INVALID: {
    status: 400,
    message: 'The magic-link lifetime must be a duration from 1m to 60m, such as 15m, 90s or 1h.',
  },
  DEFAULT_DOOR_INVALID: { status: 400, message: 'The default door is email (the sign-in link page) or password.' },
  LOCALE_INVALID: { status: 400, message: 'The language must be one of those Portico ships: en, de, fr, es, nl or pt-BR.' },
  ACCENT_COLOR_INVALID: { status: 400, message: 'The accent colour must be written #RRGGBB and stand at least 3:1 against the white card.' },
  MAIL_FROM_INVALID: { status: 400, message: 'The sender must be written Name <address@example.com> or address@example.com.' },
  WORKSPACE_ADDRESS_INVALID: { status: 400, message: 'Enter an email address like name@example.com.' },
  LOGO_INVALID: { status: 400, message: 'A logo is a whole PNG, JPEG or WebP image of at most 512 KB, 2048 pixels a side and a million pixels.' },
  CLIENT_EMAIL_INVALID: { status: 400, message: 'Enter an email address like name@example.com.' },
  CLIENT_NAME_INVALID: { status: 400, message: 'A client name is at most 200 characters, without line breaks, control characters or text-direction overrides.' },
  CLIENT_EXISTS: { status: 409, message: 'This email is already a client of the workspace.' },
  CLIENT_NOT_FOUND: { status: 404, message: 'No such client in the workspace.' },
  CLIENT_DISABLED: { status: 409, message: 'This client is disabled.' },
  CLIENT_EMAIL_LIMITED: {
    status: 429,
    message: 'This client was emailed too recently or too often this hour, so nothing was sent. Try again later.',
  },
  API_KEY_INVALID: { status: 401, message: 'Send a valid API key of this workspace as Authorization: Bearer KEY.' },
  API_KEY_NOT_FOUND: { status: 404, message: 'No API key with this id in the workspace.' },
  API_KEY_NAME_INVALID: { status: 400, message: 'An API key name is 1 to 100 characters, without line breaks, control characters or text-direction overrides.' },
  REQUEST_INVALID: { status: 400, message: 'A field of the request is missing or not valid.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the request body as JSON, with Content-Type: application/json.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was already used with a different request.' },
  WEBHOOK_URL_INVALID: { status: 400, message: 'A webhook URL is an absolute http or https address with no credentials or fragment, such as https://crm.example.com/portico-events.' },
  WEBHOOK_URL_REFUSED: {
    status: 400,
    message: 'This webhook URL points at a loopback, private or link-local address, or its host cannot be resolved; set WEBHOOK_ALLOW_PRIVATE=true to allow internal addresses.',
  },
  WEBHOOK_EVENTS_INVALID: { status: 400, message: 'Unknown webhook event type: name them from the list in the README, or * for all.' },
  WEBHOOK_NOT_FOUND: { status: 404, message: 'No webhook endpoint with this id in the workspace.' },
  WEBHOOK_LIMIT_REACHED: { status: 409, message: 'The workspace has as many webhook endpoints as it may; remove one first.' },
  APP_NAME_INVALID: { status: 400, message: 'An app name is 1 to 100 characters, without line breaks, control characters or text-direction overrides.' },
  APP_REDIRECT_URI_INVALID: {
    status: 400,
    message: 'A redirect URI is an absolute http or https address with no fragment or credentials, such as https://app.example.com/callback.',
  },
  APP_NOT_FOUND: { status: 404, message: 'No app with this client id in the workspace.' },
  PASSWORD_REJECTED: { status: 400, message: 'This password cannot be used.' },
  PASSWORD_MISSING: { status: 400, message: 'No password was given on standard input.' },
  IMPORT_FILE_UNREADABLE: { status: 400, message: 'The CSV file could not be read.' },
  IMPORT_HEADER_INVALID: { status: 400, message: 'The CSV file must start with the header line "email,name".' },
  LIMIT_INVALID: { status: 400, message: 'The limit must be a whole number from 1 to 1000.' },
  CROSS_SITE_REQUEST: {
    status: 403,
    message: 'This form was sent from another site, so it was refused. Open the page on this site and try again.',
  },
  BODY_TOO_LARGE: { status: 413, message: 'What you sent is too large.' },
  BAD_REQUEST: { status: 400, message: 'The request could not be understood.' },
  NOT_SIGNED_IN: { status: 401, message: 'You are not signed in.' },
  NOT_FOUND: { status: 404, message: 'There is nothing at this address.' },
  TOO_MANY_REQUESTS: { status: 429, message: 'This was tried too often in a short time. Please wait, then try again.' },
  DATABASE_UNAVAILABLE: { status: 503, message: 'Portico cannot reach its database right now. Please try again shortly.' },
  INTERNAL: { status: 500, message: 'Something went wrong on our side. Please try again.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorRegistry;

/** A failure with a stable code, an HTTP status and a message safe to show to anyone. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, options?: { cause?: unknown; message?: string }) {
    super(options?.message ?? errorRegistry[code].message, { cause: options?.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorRegistry[code].status;
  }
}

/** True when `value` is an AppError with the given code. */
export function isAppError(value: unknown, code?: ErrorCode): value is AppError {
  return value instanceof AppError && (code === undefined || value.code === code);
}
