import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { HttpAgent } from './helpers/http-agent.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

describe('attacks that hit other sign-in libraries', () => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;

  beforeAll(async () => {
    sink = await new SmtpSink().start();
    // TRUST_PROXY on, so the forwarded-header attacks meet a server that reads forwarded headers.
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: sink.url, env: { TRUST_PROXY: 'true', LOG_LEVEL: 'debug' } });
    workspace = await server.createWorkspace('Victim');
    for (const email of ['victim@example.com', 'admin@example.com', 'ki@example.com']) await server.addClient(workspace, email);
  });
  afterAll(async () => {
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  function allRecipients(): string[] {
    return sink.mails.flatMap((mail) => mail.to.map((address) => address.toLowerCase()));
  }

  describe('mail goes only to the stored address of the matched client', () => {
    const attacks: [string, Record<string, string | string[]>][] = [
      ['two values for email (CVE-2023-7028)', { email: ['victim@example.com', 'attacker@evil.example'] }],
      ['an array-style field (CVE-2023-7028)', { 'email[]': ['victim@example.com', 'attacker@evil.example'] }],
      ['a quoted local part (GHSA-5jpx-9hw9-2fx4)', { email: '"attacker@evil.example"@example.com' }],
      ['two addresses in one', { email: 'victim@example.com,attacker@evil.example' }],
      ['two addresses with a space', { email: 'victim@example.com attacker@evil.example' }],
      ['a display name', { email: 'Victim <attacker@evil.example>' }],
      ['a Cyrillic look-alike (CVE-2019-19844)', { email: 'аdmin@example.com' }],
      ['a dotless-i case fold (CVE-2019-19844)', { email: 'KI@examplE.com'.replace('I', 'İ') }],
      ['a header injection', { email: 'victim@example.com\r\nBcc: attacker@evil.example' }],
    ];
    it.each(attacks)('%s sends nothing to anyone else', async (_label, form) => {
      for (const path of ['/magic-login', '/forgot-password']) {
        const response = await server.agent(workspace).post(path, form);
        expect(response.status).toBeLessThan(500);
      }
      await settle();
      expect(allRecipients().filter((address) => !['victim@example.com', 'admin@example.com', 'ki@example.com'].includes(address))).toEqual([]);
      expect(allRecipients().filter((address) => address === 'victim@example.com' || address === 'admin@example.com')).toEqual([]);
    });
  });

  describe('host poisoning (CVE-2012-4520): links come only from the workspace URL', () => {
    it('ignores X-Forwarded-Host and Forwarded, even behind a trusted proxy', async () => {
      const response = await server.agent(workspace).post('/forgot-password', { email: 'ki@example.com' }, {
        headers: { 'x-forwarded-host': 'evil.example', forwarded: 'host=evil.example;proto=https', 'x-forwarded-proto': 'https' },
      });
      expect(response.status).toBe(200);
      const [mail] = await sink.waitForMails('ki@example.com');
      expect(mail!.text).toContain(`${workspace.url}/reset-password?token=`);
      expect(mail!.text + mail!.html).not.toContain('evil.example');
    });

    it('answers a forged Host with a 404 and sends nothing', async () => {
      const before = sink.mails.length;
      const forged = new HttpAgent(server.portico.address, 'http://evil.example');
      expect((await forged.post('/magic-login', { email: 'victim@example.com' })).status).toBe(404);
      await settle();
      expect(sink.mails.length).toBe(before);
    });
  });

  it('never writes a token or a session id to the logs, even at debug level', async () => {
    const browser = server.agent(workspace);
    await browser.post('/magic-login', { email: 'admin@example.com', next: '/after' });
    const [mail] = await sink.waitForMails('admin@example.com');
    const link = linkFromMail(mail!, workspace.url);
    const token = tokenFromLink(link);
    await browser.get(new URL(link).pathname + new URL(link).search);
    await browser.post('/magic-login/verify', { token });
    await browser.post('/magic-login/verify', { token });
    const sessionId = browser.cookies.get('portico_session')!;
    const browserSecret = browser.cookies.get('portico_browser')!;
    await browser.get('/api/me');
    await browser.get('/account');
    await browser.post('/logout', {});
    const logs = server.logs.join('\n');
    expect(logs).toContain('incoming request');
    for (const secret of [token, sessionId, browserSecret]) {
      expect(secret.length).toBeGreaterThan(20);
      expect(logs).not.toContain(secret);
    }
  });
});
