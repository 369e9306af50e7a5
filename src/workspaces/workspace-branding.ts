import { deriveAccentShades, defaultAccentColor, paletteCss } from './brand-palette.js';
import { readMailbox, type Mailbox } from './sender-address.js';
import { logoPath } from './workspace-logo.js';
import type { Workspace } from './workspaces.js';

type BrandedWorkspace = Pick<Workspace, 'name' | 'url' | 'accent_color' | 'logo_hash' | 'support_email'>;

/** What a page shows of its workspace's branding: all of it from the workspace row, none of it from the logo's bytes. */
export interface PageBranding {
  /** Same-origin path of the logo, or null. */
  logoPath: string | null;
  /** The custom properties of the page's colours, light and dark (brand-palette.ts). */
  paletteCss: string;
  /** Where to ask for help, shown on error pages; null: nothing shown. */
  supportEmail: string | null;
  /** `mailto:` of it, with the local part percent-encoded: `?`, `#` and `%` are allowed there but mean something in a URL. */
  supportHref: string | null;
}

/** The branding of a page of `workspace`; Portico's own look on an address no workspace owns. */
export function pageBrandingOf(workspace: BrandedWorkspace | null | undefined): PageBranding {
  return {
    logoPath: hasLogo(workspace) ? logoPath(workspace.logo_hash) : null,
    paletteCss: paletteCss(workspace?.accent_color ?? null),
    supportEmail: workspace?.support_email ?? null,
    supportHref: workspace?.support_email ? mailtoHref(workspace.support_email) : null,
  };
}

/** A logo hash as the workspaces domain writes it; anything else in the row is as good as none. */
function hasLogo(workspace: BrandedWorkspace | null | undefined): workspace is BrandedWorkspace & { logo_hash: string } {
  return typeof workspace?.logo_hash === 'string' && /^[0-9a-f]{64}$/.test(workspace.logo_hash);
}

function mailtoHref(address: string): string {
  const at = address.lastIndexOf('@');
  return `mailto:${encodeURIComponent(address.slice(0, at))}@${address.slice(at + 1)}`;
}

/** What an HTML mail shows of its workspace: mail programs know nothing of dark mode or custom properties. */
export interface MailBranding {
  /** Absolute, on the workspace's own address, so the mail loads it from where the logo is served. */
  logoUrl: string | null;
  /** Button fill and the text on it, and links, as on the light page. */
  accent: string;
  accentInk: string;
  accentText: string;
}

/** The branding of a mail of `workspace`; Portico's own when the workspace is gone. */
export function mailBrandingOf(workspace: BrandedWorkspace | null): MailBranding {
  const shades = deriveAccentShades(workspace?.accent_color ?? defaultAccentColor).light;
  return {
    logoUrl: hasLogo(workspace) ? `${workspace.url}${logoPath(workspace.logo_hash)}` : null,
    accent: shades.accent,
    accentInk: shades.accentInk,
    accentText: shades.accentText,
  };
}

/**
 * From and Reply-To of a mail: the workspace's `--mail-from`, else what a mail queued by an earlier
 * version carried in its payload, else `MAIL_FROM`; the workspace's `--reply-to`, if set.
 */
export function mailSenderOf(workspace: Pick<Workspace, 'mail_from' | 'reply_to'> | null, queuedFrom: unknown, defaultFrom: string): { from: Mailbox | string; replyTo: string | null } {
  const stored = workspace?.mail_from ?? (typeof queuedFrom === 'string' && queuedFrom ? queuedFrom : null);
  const read = stored === null ? null : readMailbox(stored, 'mail_from');
  return { from: read?.ok ? read.mailbox : defaultFrom, replyTo: workspace?.reply_to ?? null };
}
