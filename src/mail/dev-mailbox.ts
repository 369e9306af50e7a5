import type { MailTransport, OutgoingMail } from './transport.js';

export interface DevMail extends OutgoingMail {
  id: number;
  sentAt: number;
}

/**
 * Development delivery: keeps the latest mails in memory for `/_dev/mailbox` and prints each to the
 * console. Never used in production (config refuses to start there without `SMTP_URL`).
 */
export class DevMailbox implements MailTransport {
  private readonly mails: DevMail[] = [];
  private nextId = 1;

  constructor(
    private readonly print: (text: string) => void = (text) => process.stdout.write(text),
    private readonly capacity = 100,
  ) {}

  async send(mail: OutgoingMail): Promise<void> {
    this.mails.unshift({ ...mail, id: this.nextId++, sentAt: Date.now() });
    this.mails.length = Math.min(this.mails.length, this.capacity);
    this.print(`\n--- dev mailbox: mail to ${mail.to} ---\nSubject: ${mail.subject}\n\n${mail.text}\n--- end of mail ---\n\n`);
  }

  /** The mails sent for one workspace, newest first. */
  mailsOfWorkspace(workspaceId: string): DevMail[] {
    return this.mails.filter((mail) => mail.workspaceId === workspaceId);
  }

  close(): void {}
}
