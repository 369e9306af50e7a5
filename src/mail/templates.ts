import { describeDuration } from '../shared/duration.js';
import { htmlTemplates, textTemplates } from '../views/eta.js';
import { mailBrandingOf, type MailBranding } from '../workspaces/workspace-branding.js';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

interface MailPayload {
  workspaceName: string;
  clientName: string;
  link?: string;
  /** The one-time code beside a sign-in link, as shown (`48291 37750`). */
  code?: string;
  ttlMs?: number;
  signInUrl?: string;
}

/** Every mail Portico sends: its subject and the view pair in `views/mail/<name>-text|html.eta`. */
const mailTemplates = {
  'magic-link': (payload: MailPayload) => `Sign in to ${payload.workspaceName}`,
  'password-reset': (payload: MailPayload) => `Reset your ${payload.workspaceName} password`,
  'password-changed': (payload: MailPayload) => `Your ${payload.workspaceName} password was changed`,
  invitation: (payload: MailPayload) => `You are invited to ${payload.workspaceName}`,
} as const;

export type MailTemplateName = keyof typeof mailTemplates;

/** Renders a queued mail's subject, plain-text part and HTML part from its template and payload, the HTML in its workspace's colours and logo. */
export function renderMail(template: MailTemplateName, payload: Record<string, unknown>, brand: MailBranding = mailBrandingOf(null)): RenderedMail {
  const data = payload as unknown as MailPayload;
  const subject = mailTemplates[template];
  if (!subject) throw new Error(`unknown mail template ${template}`);
  const view = { ...data, validFor: data.ttlMs === undefined ? null : describeDuration(data.ttlMs), brand };
  return {
    subject: subject(data),
    text: textTemplates.render(`./mail/${template}-text`, view),
    html: htmlTemplates.render(`./mail/${template}-html`, view),
  };
}
