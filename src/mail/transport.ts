import nodemailer from 'nodemailer';
import type { Mailbox } from '../workspaces/sender-address.js';
import type { RenderedMail } from './templates.js';

export interface OutgoingMail extends RenderedMail {
  /** `MAIL_FROM` as configured, or a workspace's sender, whose name nodemailer quotes and encodes. */
  from: string | Mailbox;
  /** The workspace's `--reply-to`; null: none. */
  replyTo?: string | null;
  to: string;
  /** The workspace the mail is sent for; the dev mailbox shows each workspace only its own mail. */
  workspaceId: string;
}

/** Where mail goes: an SMTP server, or the dev mailbox when none is configured outside production. */
export interface MailTransport {
  send(mail: OutgoingMail): Promise<void>;
  /** Mails worth handing over at once (its connections, and as many queued behind them); unlimited when absent. */
  readonly concurrency?: number;
  close(): void;
}

/** Connections to the mail server each instance keeps. */
const smtpConnections = 5;

/** Sends over `SMTP_URL` with a small pool of reused connections. */
export function createSmtpTransport(smtpUrl: string): MailTransport {
  const url = new URL(smtpUrl);
  const transporter = nodemailer.createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    pool: true,
    maxConnections: smtpConnections,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    // Twice the pool: each connection has its next mail waiting, and an outage meets at most these.
    concurrency: smtpConnections * 2,
    async send(mail) {
      const from = typeof mail.from === 'string' ? mail.from : { name: mail.from.name ?? '', address: mail.from.address };
      // Content-Language (RFC 3282): the language the mail is written in, for mail programs and screen readers.
      await transporter.sendMail({ from, ...(mail.replyTo ? { replyTo: mail.replyTo } : {}), to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, headers: { 'Content-Language': mail.locale } });
    },
    close() {
      transporter.close();
    },
  };
}
