import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { rememberSecretsInMail } from './issued-secrets.js';

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  raw: string;
}

export interface SmtpSinkOptions {
  /** Offers AUTH (over plain loopback), which nodemailer then uses when given credentials. */
  offerLogin?: boolean;
}

/** A real SMTP server on loopback that keeps what nodemailer sends it. */
export class SmtpSink {
  /** While true, every login is refused with 535, as after the relay's password was rotated. */
  refuseLogins = false;
  /** While true, every connection is refused with a 554 greeting, as by a relay that does not know this host. */
  refuseConnections = false;
  /** While true, MAIL FROM without a login is refused with 530, as by a relay that requires one. */
  refuseMailWithoutLogin = false;
  readonly mails: ReceivedMail[] = [];
  /** Mails read in full and then refused (`refuseNext`): what a failed attempt carried. */
  readonly refused: ReceivedMail[] = [];
  private refusals: number[] = [];
  private server: SMTPServer | null = null;
  private waiters: (() => void)[] = [];
  port = 0;

  constructor(private readonly options: SmtpSinkOptions = {}) {}

  /** Starts listening; on the same port as before when restarted. */
  async start(): Promise<this> {
    const offerLogin = this.options.offerLogin ?? false;
    const server = new SMTPServer({
      authOptional: true,
      allowInsecureAuth: offerLogin,
      authMethods: ['PLAIN', 'LOGIN'],
      disabledCommands: offerLogin ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
      logger: false,
      onConnect: (_session, callback) => {
        if (this.refuseConnections) return callback(Object.assign(new Error('No service for this host'), { responseCode: 554 }));
        callback();
      },
      onAuth: (auth, _session, callback) => {
        if (this.refuseLogins) return callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
        callback(null, { user: auth.username });
      },
      onMailFrom: (_address, session, callback) => {
        if (this.refuseMailWithoutLogin && !session.user) return callback(Object.assign(new Error('Authentication required'), { responseCode: 530 }));
        callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', async () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const parsed: ParsedMail = await simpleParser(raw);
          rememberSecretsInMail(parsed.text ?? '');
          const mail: ReceivedMail = {
            to: session.envelope.rcptTo.map((recipient) => recipient.address),
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            raw,
          };
          const refusal = this.refusals.shift();
          (refusal === undefined ? this.mails : this.refused).push(mail);
          this.waiters.splice(0).forEach((wake) => wake());
          if (refusal === undefined) return callback();
          callback(Object.assign(new Error(refusal >= 500 ? 'Mailbox unavailable' : 'Try again later'), { responseCode: refusal }));
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.server.address() as { port: number }).port;
    return this;
  }

  /**
   * Reads each of the next mails in full, then answers `code` instead of accepting it: 451 (try
   * again later) or 550 (refused for good), as a real mail server may after the data.
   */
  refuseNext(count: number, code: 451 | 550 = 451): void {
    for (let index = 0; index < count; index += 1) this.refusals.push(code);
  }

  /** Waits until `count` mails have been refused, or fails after `timeoutMs`. */
  async waitForRefused(count: number, timeoutMs = 10_000): Promise<ReceivedMail[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.refused.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} refused mail(s), got ${this.refused.length}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.refused;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Stops listening; queued mail then waits in Portico's outbox. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  mailsTo(address: string): ReceivedMail[] {
    return this.mails.filter((mail) => mail.to.includes(address));
  }

  /** Waits until `count` mails have arrived for `address`, or fails after `timeoutMs`. */
  async waitForMails(address: string, count = 1, timeoutMs = 10_000): Promise<ReceivedMail[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.mailsTo(address).length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} mail(s) to ${address}, got ${this.mailsTo(address).length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.mailsTo(address);
  }
}

/** The sign-in link in a mail's plain-text part: the line that starts with the workspace URL. */
export function linkFromMail(mail: ReceivedMail, workspaceUrl: string): string {
  const line = mail.text.split('\n').find((candidate) => candidate.trim().startsWith(`${workspaceUrl}/`));
  if (!line) throw new Error(`no line starting with ${workspaceUrl}/ in mail: ${mail.text}`);
  return line.trim();
}

export function tokenFromLink(link: string): string {
  const token = new URL(link).searchParams.get('token');
  if (!token) throw new Error(`no token in ${link}`);
  return token;
}

/** The sign-in code in a mail's plain-text part: the end of the line that says `Your code:`. */
export function codeFromMail(mail: ReceivedMail): string {
  const match = /^Your code: ([0-9]{5} [0-9]{5})$/m.exec(mail.text);
  if (!match) throw new Error(`no code line in mail: ${mail.text}`);
  return match[1]!;
}
