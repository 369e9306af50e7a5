import { createHash } from 'node:crypto';
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

/** The headers Chromium puts on the wire for the POSTs of the token pages' forms. */
function recordTokenFormPosts(page: Page): Promise<Record<string, string>>[] {
  const posts: Promise<Record<string, string>>[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && /^\/(magic-login\/verify|reset-password)$/.test(new URL(request.url()).pathname)) posts.push(request.allHeaders());
  });
  return posts;
}

/**
 * issue 13 item 9: the token pages were `no-referrer`, so their forms posted with `Origin: null`,
 * which a sibling host's page can send too. Under `strict-origin` the POST carries the real Origin,
 * and its Referer is the bare origin: no path, no query, no token. On these plain-http `*.test`
 * hosts Chromium sends no Sec-Fetch-Site, so Origin is all the server has to go on.
 */
async function expectRealOriginAndNoToken(posts: Promise<Record<string, string>>[], workspaceUrl: string, count: number): Promise<void> {
  const headers = await Promise.all(posts);
  expect(headers).toHaveLength(count);
  for (const sent of headers) {
    expect(sent.origin).toBe(workspaceUrl);
    expect(sent.referer).toBe(`${workspaceUrl}/`);
    expect(sent['sec-fetch-site']).toBeUndefined();
  }
}

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

    const posts = recordTokenFormPosts(page);
    await page.goto(link);
    await page.waitForURL(`${workspace.url}/`);
    await expectRealOriginAndNoToken(posts, workspace.url, 1);
    await expect(page.getByRole('heading', { name: 'Welcome, Inès Moreau' }).isVisible()).resolves.toBe(true);
    await expect(page.getByText('Northwind Studio').first().isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${screenshots}/home.png`, fullPage: true });
    expect(cspViolations).toEqual([]);

    await page.goto(`${workspace.url}/account`);
    await expect(page.getByText('This browser').isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${screenshots}/account.png`, fullPage: true });
    // Issue 17 item 2: a confirmation page comes first, with the button that signs out everywhere.
    await page.getByRole('link', { name: 'Sign out everywhere…' }).click();
    await page.getByRole('heading', { name: 'Sign out everywhere?' }).waitFor();
    await page.screenshot({ path: `${screenshots}/sign-out-everywhere.png`, fullPage: true });
    await page.getByRole('button', { name: 'Sign out everywhere', exact: true }).click();
    await page.waitForURL(`${workspace.url}/magic-login?signed_out=1`);
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

    const posts = recordTokenFormPosts(page);
    await page.getByRole('button', { name: 'Sign in as tomas@example.com' }).click();
    await page.waitForURL(`${workspace.url}/`);
    await expectRealOriginAndNoToken(posts, workspace.url, 1);
    await expect(page.getByRole('heading', { name: 'Welcome, Tomás' }).isVisible()).resolves.toBe(true);
    await other.close();
  });

  it('works without JavaScript: the asking browser gets a button instead', async () => {
    await server.addClient(workspace, 'nojs@example.com', 'No Script');
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const link = await askForLink(page, 'nojs@example.com');
    const posts = recordTokenFormPosts(page);
    await page.goto(link);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${workspace.url}/`);
    await expectRealOriginAndNoToken(posts, workspace.url, 1);
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
    const posts = recordTokenFormPosts(resetPage);
    await resetPage.goto(linkFromMail(mail!, workspace.url));
    await resetPage.getByLabel('New password').fill('too short');
    await resetPage.getByRole('button', { name: 'Set new password' }).click();
    await resetPage.getByText('Use at least 15 characters').waitFor();
    await resetPage.screenshot({ path: `${screenshots}/reset-password-error.png`, fullPage: true });
    await resetPage.getByLabel('New password').fill('harbor pepper glacier tulip');
    await resetPage.getByRole('button', { name: 'Set new password' }).click();
    await resetPage.waitForURL(/\/login\?password_reset=1/);
    await expectRealOriginAndNoToken(posts, workspace.url, 2);
    await expect(resetPage.getByText('Your password is set.').isVisible()).resolves.toBe(true);
    await resetPage.getByLabel('Password', { exact: true }).fill('harbor pepper glacier tulip');
    await resetPage.getByRole('button', { name: 'Sign in', exact: true }).click();
    await resetPage.waitForURL(`${workspace.url}/`);

    // The reset signed out the browser that was signed in with the old password: `/` sends it to the
    // default door (issue 17 item 2: the email-link page, formerly /login).
    await page.goto(`${workspace.url}/`);
    await page.waitForURL(`${workspace.url}/magic-login`);
    await context.close();
    await resetting.close();
  });

  // issue 17 item 2: the browser signed in with the link used to see "already used" and only "Email
  // me a new link"; it is now offered the way on, and a browser that is not signed in the new link.
  it('shows a used link as such: the way on where signed in, a way to ask for a new one elsewhere', async () => {
    await server.addClient(workspace, 'twice@example.com');
    const context = await browser.newContext();
    const page = await context.newPage();
    const link = await askForLink(page, 'twice@example.com');
    await page.goto(link);
    await page.waitForURL(`${workspace.url}/`);
    await page.goto(link);
    await expect(page.getByRole('heading', { name: 'This sign-in link has already been used' }).isVisible()).resolves.toBe(true);
    await expect(page.getByText('You are signed in as').isVisible()).resolves.toBe(true);
    await page.getByRole('link', { name: 'Continue' }).click();
    await page.waitForURL(`${workspace.url}/`);

    const elsewhere = await browser.newContext();
    const other = await elsewhere.newPage();
    await other.goto(link);
    await expect(other.getByRole('heading', { name: 'This sign-in link has already been used' }).isVisible()).resolves.toBe(true);
    await other.screenshot({ path: `${screenshots}/link-used.png`, fullPage: true });
    await other.getByRole('link', { name: 'Email me a new link' }).click();
    await other.waitForURL(`${workspace.url}/magic-login`);
    await elsewhere.close();
    await context.close();
  });

  // issue 13 item 9: a page on a sibling plain-http host signed the victim in to the attacker's
  // account: Chromium sends `Origin: null`, no `Sec-Fetch-Site` and the victim's portico_browser
  // cookie (SameSite=Lax: the sibling is the same site), which was all the check asked for. Then
  // a hidden browser_proof (a hash of that cookie) was asked for, but the sibling can toss in a
  // portico_browser cookie of its own (`Domain=acme.test; Path=/magic-login`: sent first) and
  // compute the proof for it.
  it.each([
    ['with the victim\'s own cookie', 'portal', false],
    ['with a portico_browser cookie the sibling host tossed in and the proof computed from it', 'tossed', true],
  ])('refuses a sign-in form posted from a sibling host %s, leaving the victim signed out', async (_label, subdomain, tossCookie) => {
    const port = new URL(server.portico.address).port;
    const portal = await createWorkspace(server.portico.context.db, server.clock, { name: `Acme ${subdomain}`, url: `http://${subdomain}.acme.test:${port}` });
    await server.addClient(portal, 'attacker@example.com');
    const before = sink.mailsTo('attacker@example.com').length;
    expect((await server.agent(portal).post('/magic-login', { email: 'attacker@example.com' })).status).toBe(200);
    const attackerToken = tokenFromLink(linkFromMail((await sink.waitForMails('attacker@example.com', before + 1)).at(-1)!, portal.url));

    const known = 'K'.repeat(43);
    const knownProof = createHash('sha256').update(`portico browser proof\0${known}`, 'utf8').digest('base64url');
    const evil = createServer((_request, response) => {
      response.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        ...(tossCookie ? { 'set-cookie': `portico_browser=${known}; Domain=acme.test; Path=/magic-login; SameSite=Lax` } : {}),
      });
      response.end(`<!doctype html><meta name="referrer" content="no-referrer">
        <form method="post" action="${portal.url}/magic-login/verify"><input type="hidden" name="token" value="${attackerToken}">
        <input type="hidden" name="browser_proof" value="${knownProof}"></form>
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
      if (tossCookie) expect(headers.cookie).toMatch(new RegExp(`^portico_browser=${known}; `));
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
