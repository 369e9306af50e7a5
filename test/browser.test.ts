import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { createWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { launchChromium } from './helpers/chromium.js';
import { linkFromMail, SmtpSink, tokenFromLink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

const screenshots = 'test-results/screenshots';

describe('signing in by magic link in Chromium', () => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: sink.url, env: { HOST: '127.0.0.1' } });
    workspace = await server.createWorkspace('Northwind Studio');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  async function askForLink(page: Page, email: string): Promise<string> {
    const before = sink.mailsTo(email).length;
    await page.goto(`${workspace.url}/magic-login`);
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    const mails = await sink.waitForMails(email, before + 1);
    return linkFromMail(mails[mails.length - 1]!, workspace.url);
  }

  it('signs in by itself in the browser that asked for the link', async () => {
    await server.addClient(workspace, 'ines@example.com', 'Inès Moreau');
    const context = await browser.newContext();
    const page = await context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    await page.goto(`${workspace.url}/magic-login`);
    await page.screenshot({ path: `${screenshots}/magic-login.png`, fullPage: true });
    const link = await askForLink(page, 'ines@example.com');
    await page.screenshot({ path: `${screenshots}/check-your-email.png`, fullPage: true });

    await page.goto(link);
    await page.waitForURL(`${workspace.url}/`);
    await expect(page.getByRole('heading', { name: 'Welcome, Inès Moreau' }).isVisible()).resolves.toBe(true);
    await expect(page.getByText('Northwind Studio').first().isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${screenshots}/home.png`, fullPage: true });
    expect(cspViolations).toEqual([]);

    await page.goto(`${workspace.url}/account`);
    await expect(page.getByText('This browser').isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${screenshots}/account.png`, fullPage: true });
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.waitForURL(`${workspace.url}/login?signed_out=1`);
    await expect(page.getByText('You are signed out.').isVisible()).resolves.toBe(true);
    await context.close();
  });

  it('in another browser, names the account and signs in only after the button', async () => {
    await server.addClient(workspace, 'tomas@example.com', 'Tomás');
    const asking = await browser.newContext();
    const link = await askForLink(await asking.newPage(), 'tomas@example.com');
    await asking.close();

    const other = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await other.newPage();
    await page.goto(link);
    await expect(page.getByText('tomas@example.com', { exact: true }).isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${screenshots}/confirm-other-browser-phone.png`, fullPage: true });
    await page.waitForTimeout(300);
    expect(new URL(page.url()).pathname).toBe('/magic-login/verify');
    const probe = await other.newPage();
    const api = await probe.goto(`${workspace.url}/api/me`);
    expect(api!.status()).toBe(401);
    await probe.close();

    await page.getByRole('button', { name: 'Sign in as tomas@example.com' }).click();
    await page.waitForURL(`${workspace.url}/`);
    await expect(page.getByRole('heading', { name: 'Welcome, Tomás' }).isVisible()).resolves.toBe(true);
    await other.close();
  });

  it('works without JavaScript: the asking browser gets a button instead', async () => {
    await server.addClient(workspace, 'nojs@example.com', 'No Script');
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const link = await askForLink(page, 'nojs@example.com');
    await page.goto(link);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${workspace.url}/`);
    await expect(page.getByRole('heading', { name: 'Welcome, No Script' }).isVisible()).resolves.toBe(true);
    await context.close();
  });

  it('signs in by password, then resets the password', async () => {
    const client = await server.addClient(workspace, 'paula@example.com', 'Paula');
    await server.portico.context.db
      .updateTable('clients')
      .set({ password_hash: await hashPassword('lantern meadow copper violin') })
      .where('id', '=', client.id)
      .execute();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${workspace.url}/login`);
    await page.getByLabel('Email address').fill('paula@example.com');
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('link', { name: 'Email me a sign-in link instead' }).waitFor();
    await page.screenshot({ path: `${screenshots}/login-failed.png`, fullPage: true });
    await page.getByLabel('Password', { exact: true }).fill('lantern meadow copper violin');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${workspace.url}/`);
    await expect(page.getByRole('heading', { name: 'Welcome, Paula' }).isVisible()).resolves.toBe(true);

    const resetting = await browser.newContext();
    const resetPage = await resetting.newPage();
    await resetPage.goto(`${workspace.url}/login`);
    await resetPage.getByRole('link', { name: 'Forgot your password?' }).click();
    await resetPage.getByLabel('Email address').fill('paula@example.com');
    await resetPage.getByRole('button', { name: 'Email me a reset link' }).click();
    await resetPage.getByRole('heading', { name: 'Check your email' }).waitFor();
    const [mail] = await sink.waitForMails('paula@example.com');
    await resetPage.goto(linkFromMail(mail!, workspace.url));
    await resetPage.getByLabel('New password').fill('too short');
    await resetPage.getByRole('button', { name: 'Set new password' }).click();
    await resetPage.getByText('Use at least 15 characters').waitFor();
    await resetPage.screenshot({ path: `${screenshots}/reset-password-error.png`, fullPage: true });
    await resetPage.getByLabel('New password').fill('harbor pepper glacier tulip');
    await resetPage.getByRole('button', { name: 'Set new password' }).click();
    await resetPage.waitForURL(/\/login\?password_reset=1/);
    await expect(resetPage.getByText('Your password is set.').isVisible()).resolves.toBe(true);
    await resetPage.getByLabel('Password', { exact: true }).fill('harbor pepper glacier tulip');
    await resetPage.getByRole('button', { name: 'Sign in', exact: true }).click();
    await resetPage.waitForURL(`${workspace.url}/`);

    // The reset signed out the browser that was signed in with the old password.
    await page.goto(`${workspace.url}/`);
    await page.waitForURL(`${workspace.url}/login`);
    await context.close();
    await resetting.close();
  });

  it('shows a used link as such, with a way to ask for a new one', async () => {
    await server.addClient(workspace, 'twice@example.com');
    const context = await browser.newContext();
    const page = await context.newPage();
    const link = await askForLink(page, 'twice@example.com');
    await page.goto(link);
    await page.waitForURL(`${workspace.url}/`);
    await page.goto(link);
    await expect(page.getByRole('heading', { name: 'This sign-in link has already been used' }).isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${screenshots}/link-used.png`, fullPage: true });
    await page.getByRole('link', { name: 'Email me a new link' }).click();
    await page.waitForURL(`${workspace.url}/magic-login`);
    await context.close();
  });

  // issue 13 item 9: a page on a sibling plain-http host signed the victim in to the attacker's
  // account: Chromium sends `Origin: null`, no `Sec-Fetch-Site` and the victim's portico_browser
  // cookie (SameSite=Lax: the sibling is the same site), which was all the check asked for.
  it('refuses a sign-in form posted from a sibling host, leaving the victim signed out', async () => {
    const port = new URL(server.portico.address).port;
    const portal = await createWorkspace(server.portico.context.db, server.clock, { name: 'Acme Portal', url: `http://portal.acme.test:${port}` });
    await server.addClient(portal, 'attacker@example.com');
    const before = sink.mailsTo('attacker@example.com').length;
    expect((await server.agent(portal).post('/magic-login', { email: 'attacker@example.com' })).status).toBe(200);
    const attackerToken = tokenFromLink(linkFromMail((await sink.waitForMails('attacker@example.com', before + 1)).at(-1)!, portal.url));

    const evil = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(`<!doctype html><meta name="referrer" content="no-referrer">
        <form method="post" action="${portal.url}/magic-login/verify"><input type="hidden" name="token" value="${attackerToken}"></form>
        <script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      // The victim once asked for a link on the portal, so the browser holds a portico_browser cookie.
      await page.goto(`${portal.url}/magic-login`);
      await page.getByLabel('Email address').fill('victim@example.com');
      await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
      await page.getByRole('heading', { name: 'Check your email' }).waitFor();
      expect((await context.cookies(portal.url)).map((cookie) => cookie.name)).toContain('portico_browser');

      const forgedPost = page.waitForRequest((request) => request.method() === 'POST' && request.url().startsWith(`${portal.url}/magic-login/verify`));
      const answer = page.waitForResponse((response) => response.request().method() === 'POST' && response.url().startsWith(`${portal.url}/magic-login/verify`));
      await page.goto(`http://evil.acme.test:${(evil.address() as AddressInfo).port}/`);
      const headers = await (await forgedPost).allHeaders();
      expect(headers.origin).toBe('null');
      expect(headers['sec-fetch-site']).toBeUndefined();
      expect(headers.cookie).toContain('portico_browser=');
      expect((await answer).status()).toBe(403);
      await expect(page.getByRole('heading', { name: 'This request was refused' }).isVisible()).resolves.toBe(true);
      const probe = await context.newPage();
      expect((await probe.goto(`${portal.url}/api/me`))!.status()).toBe(401);
      await context.close();
    } finally {
      await new Promise((resolve) => evil.close(resolve));
    }
  });
});
