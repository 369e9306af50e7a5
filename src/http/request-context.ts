import type { Translator } from '../i18n/translator.js';
import type { Workspace } from '../workspaces/workspaces.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The workspace the `Host` header selects; set for every route but `/healthz`. */
    workspace: Workspace;
    /** Why this browser was signed out from elsewhere, as a message key, shown once on a sign-in page (signed-out-notice.ts). */
    signedOutNotice: string | null;
    /** The request's language and its words: `Accept-Language` among the shipped, else the workspace's (request-locale.ts). */
    i18n: Translator;
    /** The translator `i18n` picked, once it was first read (request-locale.ts). */
    i18nChosen: Translator | null;
  }
  interface FastifyContextConfig {
    /** Served on any host, without a workspace (only `/healthz`). */
    anyHost?: boolean;
    /** Answers in JSON rather than pages, errors included. */
    api?: boolean;
    /**
     * POSTs an app's server or script sends from its own origin (OpenID Connect's token,
     * revocation and introspection endpoints): not refused for another `Origin`; they prove
     * themselves with the app's credentials instead.
     */
    crossSite?: boolean;
    /** A sign-in door whose POSTs count against the per-IP limit (`LIMIT_IP_PER_MINUTE`). */
    door?: 'magic-login' | 'magic-login-code' | 'magic-link-redemption' | 'login' | 'forgot-password' | 'reset-password' | 'account-password';
  }
}

