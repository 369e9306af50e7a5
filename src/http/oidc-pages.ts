import type { KoaContextWithOIDC } from 'oidc-provider';
import type { OidcPages } from '../apps/oidc/workspace-providers.js';
import { generateNonce } from '../crypto/tokens.js';
import { defaultDoorPath, type Workspace } from '../workspaces/workspaces.js';
import { pageHtml } from './render.js';
import { pageTranslator } from './request-locale.js';
import { pagePolicy } from './security-headers.js';

/** Portico's own pages for what a workspace's OpenID Connect provider shows in a browser, in the browser's language. */
export function oidcPagesFor(workspace: Workspace): OidcPages {
  return {
    async renderError(ctx, out) {
      renderOidcPage(ctx, workspace, 'message', {
        titleKey: 'oidc.error.heading',
        heading: 'oidc.error.heading',
        message: 'oidc.error.message',
        // oidc-provider's own description, in English, for the app's developers.
        detail: out.error_description ?? null,
        showHomeLink: false,
      });
    },

    async logoutSource(ctx, form) {
      renderOidcPage(
        ctx,
        workspace,
        'app-sign-out',
        { titleKey: 'appSignOut.title', appName: ctx.oidc.client?.clientName ?? null, form },
        // The form is sent here, and the answer sends the browser on to the app's registered address.
        registeredReturnOrigin(ctx),
      );
    },

    async logoutWithoutSessionSource(ctx, form) {
      const returnTo = registeredReturnOrigin(ctx);
      renderOidcPage(
        ctx,
        workspace,
        'app-signed-out',
        {
          titleKey: 'oidc.signedOut.heading',
          // Back to the app, or else on to the signed-out page (postLogoutSuccessSource).
          backToApp: returnTo !== null,
          appName: ctx.oidc.client?.clientName ?? null,
          action: form.action,
          fields: Object.entries(form.fields),
        },
        returnTo,
      );
    },

    async postLogoutSuccessSource(ctx) {
      renderOidcPage(ctx, workspace, 'message', {
        titleKey: 'oidc.signedOut.heading',
        heading: 'oidc.signedOut.heading',
        message: 'oidc.signedOut.message',
        messageValues: { workspace: workspace.name },
        actionHref: defaultDoorPath(workspace),
        actionLabel: 'oidc.signedOut.action',
      });
    },
  };
}

/**
 * The origin of the address the sign-out sends the browser back to, when the app registered it
 * (oidc-provider has refused the request otherwise); null when it goes on to the signed-out page.
 */
function registeredReturnOrigin(ctx: KoaContextWithOIDC): string | null {
  const client = ctx.oidc.client;
  const requested = typeof ctx.oidc.params?.post_logout_redirect_uri === 'string' ? ctx.oidc.params.post_logout_redirect_uri : null;
  return client && requested && client.postLogoutRedirectUris?.includes(requested) ? new URL(requested).origin : null;
}

/**
 * One of Portico's pages as oidc-provider's answer, with the page CSP of every Portico page, in
 * the language Portico's own pages would use (oidc-provider's requests never pass our hooks).
 */
function renderOidcPage(ctx: KoaContextWithOIDC, workspace: Workspace, page: string, data: Record<string, unknown>, formTarget: string | null = null): void {
  const nonce = generateNonce();
  const i18n = pageTranslator(ctx.get('accept-language'), workspace);
  ctx.set('content-security-policy', pagePolicy(nonce, formTarget));
  ctx.set('content-language', i18n.locale);
  ctx.vary('Accept-Language');
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = pageHtml(page, { workspace, i18n, nonce, status: ctx.status }, data);
}
