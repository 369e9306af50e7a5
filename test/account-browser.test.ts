import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { inviteClient } from '../src/magic-links/invite-client.js';
import type { Workspace } from '../src/workspaces/workspaces.js';
import { launchChromium } from './helpers/chromium.js';
import { linkFromMail, SmtpSink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

// Issue 17 item 2 in a real browser: the password toggle, the focus ring's contrast, addresses on
// a phone, the invitation, and a browser told why it was signed out from elsewhere.

// The functions passed to page.evaluate run in Chromium: its DOM, declared for this file only
// (no DOM types in the project, whose code runs in Node).
declare const document: any;
declare function getComputedStyle(element: unknown): { outlineColor: string; outlineWidth: string; outlineStyle: string; backgroundColor: string };

const screenshots = 'test-results/screenshots';
const password = 'lantern meadow copper violin';
const phone = { viewport: { width: 390, height: 844 }, isMobile: true };

/** WCAG 2.x relative luminance and contrast ratio of two `rgb(r, g, b)` colours. */
function contrast(first: string, second: string): number {
  const luminance = (colour: string) => {
    const [r, g, b] = colour.match(/\d+(\.\d+)?/g)!.slice(0, 3).map((part) => {
      const value = Number(part) / 255;
      return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const [light, dark] = [luminance(first), luminance(second)].sort((a, b) => b - a);
  return (light! + 0.05) / (dark! + 0.05);
}

describe('the account pages in Chromium (issue 17 item 2)', () => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: sink.url, env: { HOST: '127.0.0.1' } });
    workspace = await server.createWorkspace('Acme');
    browser = await launchChromium();
    const client = await server.addClient(workspace, 'paula@example.com', 'Paula');
    await server.portico.context.db.updateTable('clients').set({ password_hash: await hashPassword(password) }).where('id', '=', client.id).execute();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  async function signInWithPassword(page: Page) {
    await page.goto(`${workspace.url}/login`);
    await page.getByLabel('Email address').fill('paula@example.com');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${workspace.url}/`);
  }

  it('shows and hides a password with a real toggle button that keeps focus, and signs in either way', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${workspace.url}/login`);
    const field = page.getByLabel('Password', { exact: true });
    const toggle = page.getByRole('button', { name: 'Show password' });
    await expect(toggle.getAttribute('aria-pressed')).resolves.toBe('false');
    await expect(toggle.getAttribute('aria-controls')).resolves.toBe('password');
    await expect(toggle.getAttribute('type')).resolves.toBe('button');
    await page.getByLabel('Email address').fill('paula@example.com');
    await field.fill(password);
    // Keyboard: the toggle comes right after its field, and Space presses it without leaving it.
    await field.focus();
    await page.keyboard.press('Tab');
    await expect(toggle.evaluate((element) => element === document.activeElement)).resolves.toBe(true);
    await page.keyboard.press('Space');
    await expect(field.getAttribute('type')).resolves.toBe('text');
    await expect(toggle.getAttribute('aria-pressed')).resolves.toBe('true');
    await expect(toggle.evaluate((element) => element === document.activeElement)).resolves.toBe(true);
    await page.screenshot({ path: `${screenshots}/login-password-shown.png`, fullPage: true });
    await toggle.click();
    await expect(field.getAttribute('type')).resolves.toBe('password');
    await expect(toggle.getAttribute('aria-pressed')).resolves.toBe('false');
    await toggle.click();
    // Shown when sent: it still signs in, and the field went back to a password field on the way.
    const fieldTypeOnSubmit = page.evaluate(
      () => new Promise<string>((resolve) => document.querySelector('form')!.addEventListener('submit', () => setTimeout(() => resolve(document.getElementById('password').type)))),
    );
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(fieldTypeOnSubmit).resolves.toBe('password');
    await page.waitForURL(`${workspace.url}/`);

    // The account page's password fields get one toggle each.
    await page.goto(`${workspace.url}/account`);
    await expect(page.getByRole('button', { name: 'Show password' }).count()).resolves.toBe(2);
    await context.close();
  });

  it('leaves a plain password field where scripts do not run', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${workspace.url}/login`);
    await expect(page.getByRole('button', { name: 'Show password' }).count()).resolves.toBe(0);
    await expect(page.getByLabel('Password', { exact: true }).getAttribute('type')).resolves.toBe('password');
    await context.close();
  });

  it('draws a focus ring with at least 3:1 contrast against the page, the card and the buttons', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInWithPassword(page);
    // Home: the primary "Account and security" and the secondary "Sign out", each reached by Tab.
    const seen: { name: string; ring: string; fill: string }[] = [];
    for (let step = 0; step < 6; step += 1) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const element = document.activeElement;
        const style = getComputedStyle(element);
        return { tag: element.tagName, name: element.textContent!.trim(), ring: style.outlineColor, width: style.outlineWidth, outline: style.outlineStyle, fill: style.backgroundColor };
      });
      if (focused.tag !== 'A' && focused.tag !== 'BUTTON') continue;
      expect(focused.outline, JSON.stringify(focused)).toBe('solid');
      expect(focused.width).toBe('3px');
      seen.push(focused);
    }
    const page_ = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const card = await page.evaluate(() => getComputedStyle(document.querySelector('main')!).backgroundColor);
    const primary = seen.find((focused) => focused.name === 'Account and security')!;
    const secondary = seen.find((focused) => focused.name === 'Sign out')!;
    expect(primary.fill).toBe('rgb(29, 78, 216)');
    expect(secondary.fill).toBe('rgb(255, 255, 255)');
    for (const background of [page_, card, primary.fill, secondary.fill]) expect(contrast(primary.ring, background)).toBeGreaterThanOrEqual(3);
    await page.getByRole('link', { name: 'Account and security' }).focus();
    await page.screenshot({ path: `${screenshots}/focus-ring.png` });
    await context.close();
  });

  it('keeps an address whole on a phone when it fits, with no sideways scrolling, and Sign out secondary', async () => {
    const context = await browser.newContext(phone);
    const page = await context.newPage();
    await signInWithPassword(page);
    const address = page.locator('.account-email').first();
    await expect(address.evaluate((element) => element.getClientRects().length)).resolves.toBe(1);
    await expect(page.getByRole('button', { name: 'Sign out' }).getAttribute('class')).resolves.toBe('secondary');
    await expect(page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${screenshots}/home-phone.png`, fullPage: true });
    await page.goto(`${workspace.url}/account`);
    await expect(page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${screenshots}/account-phone.png`, fullPage: true });
    await context.close();
  });

  it('accepts an invitation on a phone with a button press, sets a password and says so', async () => {
    await inviteClient(server.portico.context, workspace, { email: 'grace.hopper.invited@example.com', name: 'Grace' });
    const [mail] = await sink.waitForMails('grace.hopper.invited@example.com');
    const context = await browser.newContext(phone);
    const page = await context.newPage();
    await page.goto(linkFromMail(mail!, workspace.url));
    await page.getByRole('heading', { name: 'Accept your invitation to Acme' }).waitFor();
    await expect(page.getByText('grace.hopper.invited@example.com', { exact: true }).isVisible()).resolves.toBe(true);
    await expect(page.getByText('do not use it').count()).resolves.toBe(0);
    await page.screenshot({ path: `${screenshots}/invitation-phone.png`, fullPage: true });
    // Nothing happens until the button is pressed.
    await page.waitForTimeout(300);
    expect(new URL(page.url()).pathname).toBe('/magic-login/verify');
    await page.getByRole('button', { name: 'Accept invitation' }).click();
    await page.waitForURL(`${workspace.url}/welcome`);
    await page.getByLabel('Password', { exact: true }).fill('quiet harbor velvet otter climbs');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('heading', { name: 'Your password is set' }).waitFor();
    await expect(page.getByText('You are signed in to Acme as grace.hopper.invited@example.com.').isVisible()).resolves.toBe(true);
    await page.screenshot({ path: `${screenshots}/invitation-password-set-phone.png`, fullPage: true });
    await page.getByRole('link', { name: 'Continue' }).click();
    await page.waitForURL(`${workspace.url}/`);
    await page.goto(`${workspace.url}/account`);
    await expect(page.locator('tr.current').textContent()).resolves.toContain('Invitation');
    await context.close();
  });

  it('tells a browser signed out by "Sign out other sessions" in another browser why, on its next visit', async () => {
    const laptop = await browser.newContext();
    const laptopPage = await laptop.newPage();
    await signInWithPassword(laptopPage);
    const handheld = await browser.newContext(phone);
    const handheldPage = await handheld.newPage();
    await signInWithPassword(handheldPage);

    await laptopPage.goto(`${workspace.url}/account`);
    await expect(laptopPage.locator('tbody tr').first().textContent()).resolves.toContain('This browser');
    await laptopPage.screenshot({ path: `${screenshots}/account-sessions.png`, fullPage: true });
    await laptopPage.getByRole('button', { name: 'Sign out other sessions' }).click();
    await laptopPage.getByText('Every other browser is signed out. This one stays signed in.').waitFor();

    await handheldPage.goto(`${workspace.url}/account`);
    await handheldPage.waitForURL(/\/magic-login\?next=%2Faccount$/);
    await expect(handheldPage.getByText('You were signed out because “Sign out other sessions” was used in another browser.').isVisible()).resolves.toBe(true);
    await handheldPage.screenshot({ path: `${screenshots}/signed-out-remotely-phone.png`, fullPage: true });
    await laptop.close();
    await handheld.close();
  });
});
