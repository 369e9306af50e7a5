import { readLocale } from '../i18n/negotiate-locale.js';
import type { Locale } from '../i18n/locales.js';
import { linkTag, translatorFor } from '../i18n/translator.js';
import { htmlTemplates, textTemplates } from '../views/eta.js';
import { mailBrandingOf, type MailBranding } from '../workspaces/workspace-branding.js';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  /** The language it is written in (its `Content-Language`). */
  locale: Locale;
}

interface MailPayload {
  workspaceName: string;
  clientName: string;
  link?: string;
  /** The one-time code beside a sign-in link, as shown (`48291 37750`). */
  code?: string;
  ttlMs?: number;
  signInUrl?: string;
  /**
   * The language to write in: the browser's that asked, else the client's last, else the
   * workspace's (decided when the mail was queued or minted). A mail queued before languages
   * existed has none, and goes out in English as it would have then.
   */
  locale?: string;
}

/** Every mail Portico sends: its subject's message key and the view pair in `views/mail/<name>-text|html.eta`. */
const mailSubjects = {
  'magic-link': 'mail.magicLink.subject',
  'password-reset': 'mail.passwordReset.subject',
  'password-changed': 'mail.passwordChanged.subject',
  invitation: 'mail.invitation.subject',
} as const;

export type MailTemplateName = keyof typeof mailSubjects;

/** Renders a queued mail's subject, plain-text part and HTML part from its template and payload, in the payload's language, the HTML in its workspace's colours and logo. */
export function renderMail(template: MailTemplateName, payload: Record<string, unknown>, brand: MailBranding = mailBrandingOf(null)): RenderedMail {
  const data = payload as unknown as MailPayload;
  const subjectKey = mailSubjects[template];
  if (!subjectKey) throw new Error(`unknown mail template ${template}`);
  const i18n = translatorFor(readLocale(data.locale));
  const subject = i18n.t(subjectKey, { workspace: data.workspaceName });
  const view = { ...data, i18n, linkTag, subject, validFor: data.ttlMs === undefined ? null : i18n.duration(data.ttlMs), brand };
  return {
    subject,
    text: textTemplates.render(`./mail/${template}-text`, view),
    html: htmlTemplates.render(`./mail/${template}-html`, view),
    locale: i18n.locale,
  };
}
