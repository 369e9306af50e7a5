import type { KoaContextWithOIDC } from 'oidc-provider';
import type { OidcPages } from '../apps/oidc/workspace-providers.js';
import { generateNonce } from '../crypto/tokens.js';
import { htmlTemplates } from '../views/eta.js';
import { pageBrandingOf } from '../workspaces/workspace-branding.js';
import type { Workspace } from '../workspaces/workspaces.js';
import { pagePolicy } from './security-headers.js';

/** Portico's own pages for what a workspace's OpenID Connect provider shows in a browser. */
export function oidcPagesFor(workspace: Workspace): OidcPages {
  return {
    async renderError(ctx, out) {
      renderOidcPage(ctx, workspace, 'message', {
        workspaceName: workspace.name,
        title: 'This sign-in request cannot be used',
        heading: 'This sign-in request cannot be used',
        message: `Go back to the app and try again. ${out.error_description ?? ''}`.trim(),
        showHomeLink: false,
      });
    },

    async logoutSource(ctx, form) {
      const client = ctx.oidc.client;
      const requested = typeof ctx.oidc.params?.post_logout_redirect_uri === 'string' ? ctx.oidc.params.post_logout_redirect_uri : null;
      const returnTo = client && requested && client.postLogoutRedirectUris?.includes(requested) ? new URL(requested).origin : null;
      renderOidcPage(
        ctx,
        workspace,
        'app-sign-out',
        { workspaceName: workspace.name, title: 'Sign out', appName: client?.clientName ?? null, form },
        // The form is sent here, and the answer sends the browser on to the app's registered address.
        returnTo,
      );
    },

    async postLogoutSuccessSource(ctx) {
      renderOidcPage(ctx, workspace, 'message', {
        workspaceName: workspace.name,
        title: 'You are signed out',
        heading: 'You are signed out',
        message: `You are signed out of ${workspace.name}.`,
        actionHref: '/login',
        actionLabel: 'Sign in again',
      });
    },
  };
}

/** One of Portico's pages as oidc-provider's answer, with the page CSP of every Portico page. */
function renderOidcPage(ctx: KoaContextWithOIDC, workspace: Workspace, page: string, data: Record<string, unknown>, formTarget: string | null = null): void {
  const nonce = generateNonce();
  ctx.set('content-security-policy', pagePolicy(nonce, formTarget));
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = htmlTemplates.render(`./pages/${page}`, { nonce, branding: pageBrandingOf(workspace), showSupport: page === 'message' && ctx.status >= 400, ...data });
}
