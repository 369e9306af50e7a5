import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { launchChromium } from './helpers/chromium.js';
import { linkFromMail, SmtpSink, type ReceivedMail } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

const screenshots = 'test-results/screenshots';

// issue 17 item 1: asked on the laptop, read on the phone, typed on the laptop.
describe('a sign-in code in Chromium', () => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: sink.url });
    workspace = await server.createWorkspace('Northwind Studio');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  async function ask(page: Page, email: string, path = '/magic-login'): Promise<ReceivedMail> {
    const before = sink.mailsTo(email).length;
    await page.goto(`${workspace.url}${path}`);
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    const mails = await sink.waitForMails(email, before + 1);
    return mails[mails.length - 1]!;
  }

  it('signs the laptop in with the code read on a phone, without JavaScript on the laptop', async () => {
    await server.addClient(workspace, 'amara@example.com', 'Amara Diallo');
    const laptop = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 800 } });
    const laptopPage = await laptop.newPage();
    const mail = await ask(laptopPage, 'amara@example.com', '/magic-login?next=%2Finvoices%2F12');
    await laptopPage.screenshot({ path: `${screenshots}/check-your-email-with-code.png`, fullPage: true });

    // The phone opens the email: its HTML part, as a mail app shows it.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const phonePage = await phone.newPage();
    await phonePage.setContent(mail.html);
    await phonePage.screenshot({ path: `${screenshots}/sign-in-mail-on-phone.png`, fullPage: true });
    const shown = (await phonePage.getByText(/^[0-9]{5} [0-9]{5}$/).textContent())!.trim();
    await phone.close();

    const field = laptopPage.getByLabel('Code from the email');
    await expect(field.getAttribute('inputmode')).resolves.toBe('numeric');
    await expect(field.getAttribute('autocomplete')).resolves.toBe('one-time-code');
    // A typo first: the form comes back, with the error tied to the field.
    await field.fill('00000 00000');
    await laptopPage.getByRole('button', { name: 'Sign in with the code' }).click();
    await laptopPage.getByText('That code is not right').waitFor();
    await laptopPage.screenshot({ path: `${screenshots}/wrong-code.png`, fullPage: true });
    await laptopPage.getByLabel('Code from the email').fill(shown.replace(' ', '-'));
    await laptopPage.getByRole('button', { name: 'Sign in with the code' }).click();
    await laptopPage.waitForURL(`${workspace.url}/invoices/12`);
    const me = await laptopPage.goto(`${workspace.url}/api/me`);
    expect(await me!.json()).toMatchObject({ client: { email: 'amara@example.com' } });
    await laptop.close();
  });

  it('keeps the code form usable on a phone-sized screen, with no sideways scrolling', async () => {
    const small = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await small.newPage();
    await page.goto(`${workspace.url}/magic-login`);
    await page.getByLabel('Email address').fill('nobody-small@example.com');
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    const field = page.getByLabel('Code from the email');
    await field.focus();
    await page.screenshot({ path: `${screenshots}/check-your-email-with-code-390.png`, fullPage: true });
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await small.close();
  });

  it('still signs the asking browser in by the link alone', async () => {
    await server.addClient(workspace, 'kenji@example.com', 'Kenji Sato');
    const context = await browser.newContext();
    const page = await context.newPage();
    const mail = await ask(page, 'kenji@example.com');
    await page.goto(linkFromMail(mail, workspace.url));
    await page.waitForURL(`${workspace.url}/`);
    await expect(page.getByRole('heading', { name: 'Welcome, Kenji Sato' }).isVisible()).resolves.toBe(true);
    await context.close();
  });
});
