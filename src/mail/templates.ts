import { describeDuration } from '../shared/duration.js';
import { htmlTemplates, textTemplates } from '../views/eta.js';

export type MailTemplateName = 'magic-link';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

interface MagicLinkMailPayload {
  link: string;
  ttlMs: number;
  workspaceName: string;
  clientName: string;
}

/** Renders a queued mail's subject, plain-text part and HTML part from its template and payload. */
export function renderMail(template: MailTemplateName, payload: Record<string, unknown>): RenderedMail {
  switch (template) {
    case 'magic-link': {
      const data = payload as unknown as MagicLinkMailPayload;
      const view = { ...data, validFor: describeDuration(data.ttlMs) };
      return {
        subject: `Sign in to ${data.workspaceName}`,
        text: textTemplates.render('./mail/magic-link-text', view),
        html: htmlTemplates.render('./mail/magic-link-html', view),
      };
    }
  }
}
