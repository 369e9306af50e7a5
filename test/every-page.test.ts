import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addApp } from '../src/apps/apps.js';
import { inviteClient } from '../src/magic-links/invite-client.js';
import { hashPassword } from '../src/crypto/password-hashing.js';
import { updateWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { launchChromium } from './helpers/chromium.js';
import { linkFromMail, SmtpSink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

/**
 * Issue 17 item 3 and issue 18 item 4: every page a client can meet, in two languages (English and
 * German, the longest words), light and dark, at a phone's width (390 px) and a laptop's (1280 px),
 * on a branded workspace (its accent colour, logo and support address): no horizontal scroll, the
 * page in the browser's language, and no serious or critical violation found by axe-core (colour
 * contrast among them). The screenshots are kept under test-results/ (CI keeps them as artefacts)
 * for people to look at.
 */
const screenshots = 'test-results/screenshots/pages';
const widths = [390, 1280] as const;
const schemes = ['light', 'dark'] as const;
/** The browser's locale (its Accept-Language) and the language the page must then be in. */
const languages = [
  { browserLocale: 'en-US', lang: 'en' },
  { browserLocale: 'de-DE', lang: 'de' },
] as const;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface PageState {
  name: string;
  /** Brings a fresh page (already at its width) to the state to check. */
  open(page: Page): Promise<void>;
}

describe('every page, in English and German, light and dark, at 390 and 1280 pixels, in Chromium', () => {
  let sink: SmtpSink;
  let server: TestPortico;
  let workspace: Workspace;
  let browser: Browser;
  let clientId: string;

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    sink = await new SmtpSink().start();
    // The default per-IP limit, and each browser context from an address of its own
    // (X-Forwarded-For, believed with TRUST_PROXY): only the 429 page's context goes over it.
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: sink.url, env: { HOST: '127.0.0.1', TRUST_PROXY: 'true', LIMIT_IP_PER_MINUTE: '10' } });
    // A long name and a long address: where pages break on a phone.
    const created = await server.createWorkspace('Northwind Creative Studio & Partners');
    // Branded as an agency would: a mid-tone violet (light text on it, a lighter shade in dark mode),
    // a logo, and a support address, which error pages show.
    workspace = await updateWorkspace(server.portico.context.db, created.slug, {
      accentColor: '#7c3aed',
      supportEmail: 'help@northwind-creative.example',
      logo: { bytes: readFileSync(new URL('../assets/demo-logo.png', import.meta.url)), fileName: 'demo-logo.png' },
    });
    const client = await server.addClient(workspace, 'maximiliana.featherstonehaugh-worthington@example.com', 'Maximiliana Featherstonehaugh');
    clientId = client.id;
    await server.portico.context.db
      .updateTable('clients')
      .set({ password_hash: await hashPassword('lantern meadow copper violin') })
      .where('id', '=', clientId)
      .execute();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  let addresses = 0;
  /** A browser context (a browser of its own) from an address of its own. */
  const newContext = (options: Parameters<Browser['newContext']>[0] = {}) =>
    browser.newContext({ ...options, extraHTTPHeaders: { 'x-forwarded-for': `203.0.113.${(addresses += 1)}` } });

  const email = 'maximiliana.featherstonehaugh-worthington@example.com';
  const url = (path: string) => `${workspace.url}${path}`;

  async function lastLinkTo(address: string, before: number): Promise<string> {
    const mails = await sink.waitForMails(address, before + 1);
    return linkFromMail(mails[mails.length - 1]!, workspace.url);
  }

  async function askForLink(page: Page): Promise<string> {
    const before = sink.mailsTo(email).length;
    await page.goto(url('/magic-login'));
    await page.locator('input[name="email"]:not([type="hidden"])').first().fill(email);
    await page.locator('form[action="/magic-login"] button[type="submit"]').first().click();
    await page.waitForLoadState();
    return lastLinkTo(email, before);
  }

  async function signIn(page: Page): Promise<void> {
    await page.goto(url('/login'));
    await page.locator('input[name="email"]:not([type="hidden"])').first().fill(email);
    await page.locator('input[name="password"]').fill('lantern meadow copper violin');
    await page.locator('form[action="/login"] button[type="submit"]').first().click();
    await page.waitForURL((address) => !address.pathname.startsWith('/login'));
  }

  const states: PageState[] = [
    { name: 'magic-login', open: async (page) => void (await page.goto(url('/magic-login'))) },
    { name: 'login', open: async (page) => void (await page.goto(url('/login'))) },
    { name: 'forgot-password', open: async (page) => void (await page.goto(url('/forgot-password'))) },
    {
      name: 'check-your-email',
      open: async (page) => void (await askForLink(page)),
    },
    {
      name: 'wrong-code',
      open: async (page) => {
        await askForLink(page);
        await page.locator('input[name="code"]').fill('0000000000');
        await page.locator('form[action="/magic-login/code"] button[type="submit"]').click();
        await page.waitForLoadState();
      },
    },
    {
      name: 'magic-login-form-error',
      open: async (page) => {
        await page.goto(url('/magic-login'));
        await page.locator('input[name="email"]:not([type="hidden"])').first().fill('not an address');
        await page.locator('form[action="/magic-login"] button[type="submit"]').first().click();
        await page.waitForLoadState();
      },
    },
    {
      name: 'login-wrong-password',
      open: async (page) => {
        await page.goto(url('/login'));
        await page.locator('input[name="email"]:not([type="hidden"])').first().fill(email);
        await page.locator('input[name="password"]').fill('not the password at all');
        await page.locator('form[action="/login"] button[type="submit"]').first().click();
        await page.waitForLoadState();
      },
    },
    {
      name: 'forgot-password-sent',
      open: async (page) => {
        await page.goto(url('/forgot-password'));
        await page.locator('input[name="email"]:not([type="hidden"])').first().fill(email);
        await page.locator('form[action="/forgot-password"] button[type="submit"]').first().click();
        await page.waitForLoadState();
      },
    },
    {
      name: 'reset-password',
      open: async (page) => {
        const before = sink.mailsTo(email).length;
        await page.goto(url('/forgot-password'));
        await page.locator('input[name="email"]:not([type="hidden"])').first().fill(email);
        await page.locator('form[action="/forgot-password"] button[type="submit"]').first().click();
        await page.goto(await lastLinkTo(email, before));
      },
    },
    {
      name: 'link-in-another-browser',
      open: async (page) => {
        const asking = await newContext();
        const link = await askForLink(await asking.newPage());
        await asking.close();
        await page.goto(link);
      },
    },
    { name: 'link-not-valid', open: async (page) => void (await page.goto(url(`/magic-login/verify?token=${'x'.repeat(43)}`))) },
    { name: 'reset-link-not-valid', open: async (page) => void (await page.goto(url(`/reset-password?token=${'x'.repeat(43)}`))) },
    {
      name: 'invitation',
      open: async (page) => {
        const invited = `invited.${Math.random().toString(36).slice(2)}@example.com`;
        await inviteClient(server.portico.context, workspace, { email: invited, name: 'Invited Client' });
        await page.goto(await lastLinkTo(invited, 0));
      },
    },
    {
      name: 'invitation-welcome',
      open: async (page) => {
        const invited = `invited.${Math.random().toString(36).slice(2)}@example.com`;
        await inviteClient(server.portico.context, workspace, { email: invited, name: 'Invited Client' });
        await page.goto(await lastLinkTo(invited, 0));
        await page.locator('form[action="/magic-login/verify"] button[type="submit"]').click();
        await page.waitForURL((address) => address.pathname === '/welcome');
      },
    },
    {
      name: 'invitation-password-set',
      open: async (page) => {
        const invited = `invited.${Math.random().toString(36).slice(2)}@example.com`;
        await inviteClient(server.portico.context, workspace, { email: invited, name: 'Invited Client' });
        await page.goto(await lastLinkTo(invited, 0));
        await page.locator('form[action="/magic-login/verify"] button[type="submit"]').click();
        await page.waitForURL((address) => address.pathname === '/welcome');
        await page.locator('input[name="new_password"]').fill('harbor pepper glacier tulip');
        await page.locator('form[action="/account/password"] button[type="submit"]').click();
        await page.waitForURL((address) => address.searchParams.get('password') === 'set');
      },
    },
    {
      name: 'sign-out-everywhere-confirm',
      open: async (page) => {
        await signIn(page);
        await page.goto(url('/account/sign-out-everywhere'));
      },
    },
    {
      name: 'signed-out-remotely',
      open: async (page) => {
        await signIn(page);
        const other = await newContext();
        await signIn(await other.newPage());
        const otherPage = other.pages()[0]!;
        await otherPage.goto(url('/account'));
        await otherPage.locator('form[action="/account/sessions/end-others"] button[type="submit"]').click();
        await otherPage.waitForLoadState();
        await other.close();
        await page.goto(url('/magic-login'));
      },
    },
    {
      name: 'signed-in-visitor-on-a-door',
      open: async (page) => {
        await signIn(page);
        await page.goto(url('/magic-login'));
      },
    },
    {
      name: 'home-signed-in',
      open: async (page) => signIn(page),
    },
    {
      name: 'account',
      open: async (page) => {
        await signIn(page);
        await page.goto(url('/account'));
      },
    },
    {
      name: 'signed-out',
      open: async (page) => {
        await signIn(page);
        await page.locator('form[action="/logout"] button[type="submit"]').first().click();
        await page.waitForLoadState();
      },
    },
    {
      name: 'too-many-requests',
      open: async (page) => {
        // Over the per-IP limit of the password door, from this context's own address. The limit
        // counts by the clock's minute: should a new minute start between the flood and the form,
        // the form is let through (401), and the flood goes again.
        let status = 0;
        for (let round = 0; round < 3 && status !== 429; round += 1) {
          await page.goto(url('/login'));
          // Other addresses each time: the per-IP limit, not one account's throttle; until it answers 429.
          await page.evaluate(async () => {
            for (let attempt = 0; attempt < 30; attempt += 1) {
              const answer = await fetch('/login', { method: 'POST', body: new URLSearchParams({ email: `someone${attempt}@example.com`, password: 'not the password at all' }), redirect: 'manual' });
              if (answer.status === 429) return;
            }
          });
          await page.goto(url('/login'));
          await page.locator('input[name="email"]:not([type="hidden"])').first().fill(email);
          await page.locator('input[name="password"]').fill('not the password at all');
          const answer = page.waitForResponse((response) => response.request().method() === 'POST');
          await page.locator('form[action="/login"] button[type="submit"]').first().click();
          status = (await answer).status();
        }
        expect(status).toBe(429);
        await page.waitForLoadState();
      },
    },
    {
      name: 'app-sign-in-error',
      open: async (page) => {
        const { app } = await addApp(server.portico.context.db, server.clock, workspace, { name: 'Portal', redirectUris: ['http://app.example/callback'] });
        // A redirect URI the app never registered: an error page, never a redirect.
        await page.goto(url(`/oidc/auth?client_id=${app.clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://evil.example/')}`));
      },
    },
    { name: 'unknown-host', open: async (page) => void (await page.goto(`http://nobody.test:${new URL(workspace.url).port}/magic-login`)) },
    { name: 'not-found', open: async (page) => void (await page.goto(url('/no-such-page'))) },
  ];

  for (const state of states) {
    for (const { browserLocale, lang } of languages) {
      it(`${state.name} in ${lang}: the page's language, no horizontal scroll, no serious accessibility violation, light and dark`, async () => {
        // The page is brought to its state once, then looked at in each scheme and at each width: the
        // layout follows the window as it would on a phone turned or a window resized. axe runs as a
        // script of the test, so the pages' own script policy is set aside for it.
        const context = await newContext({ viewport: { width: widths[0], height: 844 }, bypassCSP: true, locale: browserLocale });
        try {
          const page = await context.newPage();
          await state.open(page);
          await page.waitForLoadState('load');
          expect(await page.evaluate('document.documentElement.lang'), `${state.name} in ${lang}`).toBe(lang);
          await page.evaluate(axeSource);
          for (const scheme of schemes) {
            await page.emulateMedia({ colorScheme: scheme });
            for (const width of widths) {
              const where = `${state.name} in ${lang}, ${scheme}, at ${width} px`;
              await page.setViewportSize({ width, height: 844 });
              await page.screenshot({ path: `${screenshots}/${state.name}-${lang}-${scheme}-${width}.png`, fullPage: true });
              // Expressions as strings: they run in the page, and this project's TypeScript has no DOM types.
              const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
              expect(overflow, `${where} scrolls sideways by ${overflow} px`).toBeLessThanOrEqual(0);
              const violations = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
                result.violations.map((violation) => ({ id: violation.id, impact: violation.impact, help: violation.help, targets: violation.nodes.map((node) => node.target.join(' ')) })))`)) as {
                id: string;
                impact: string;
                help: string;
                targets: string[];
              }[];
              const serious = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
              expect(serious, where).toEqual([]);
            }
          }
        } finally {
          await context.close();
        }
      }, 180_000);
    }
  }
});
