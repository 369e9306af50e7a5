import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateWorkspace, type Workspace } from '../src/workspaces/workspaces.js';
import { deriveAccentShades, neutralPalettes } from '../src/workspaces/brand-palette.js';
import { launchChromium } from './helpers/chromium.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

/**
 * Issue 18 items 1 and 3, in Chromium: branded workspaces (a teal and a navy accent, each with a
 * logo) in light and dark, at a phone's and a laptop's width. axe-core finds no serious violation
 * (colour contrast among them), the colours are the palette's, the logo loads under the page's CSP,
 * and the screenshots are kept in test-results/screenshots/branding/ for people to look at.
 */
const screenshots = 'test-results/screenshots/branding';
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const schemes = ['light', 'dark'] as const;

/** A colour as Chromium computes it (`rgb(15, 118, 110)`), from `#rrggbb`. */
const computed = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;

describe('branded pages in Chromium, light and dark', () => {
  let sink: SmtpSink;
  let server: TestPortico;
  let browser: Browser;
  const workspaces: { accent: string; workspace: Workspace }[] = [];

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: sink.url });
    const db = server.portico.context.db;
    for (const [name, accent, logo] of [
      ['Teal Studio', '#0f766e', '../assets/demo-logo.png'],
      ['Navy & Partners', '#1e3a8a', './fixtures/branding/logo.jpg'],
    ] as const) {
      const created = await server.createWorkspace(name);
      const workspace = await updateWorkspace(db, created.slug, {
        accentColor: accent,
        supportEmail: 'help@studio.example',
        logo: { bytes: readFileSync(new URL(logo, import.meta.url)), fileName: logo },
      });
      await server.addClient(workspace, 'ada@example.com', 'Ada');
      workspaces.push({ accent, workspace });
    }
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  const pages: { name: string; open(page: Page, workspace: Workspace): Promise<void> }[] = [
    { name: 'magic-login', open: async (page, workspace) => void (await page.goto(`${workspace.url}/magic-login`)) },
    {
      // An alert with a link in it, a filled and a secondary button.
      name: 'login-refused',
      open: async (page, workspace) => {
        await page.goto(`${workspace.url}/login`);
        await page.getByLabel('Email address').fill('ada@example.com');
        await page.getByLabel('Password', { exact: true }).fill('not the password at all');
        await page.locator('form[action="/login"] button[type="submit"]').first().click();
        await page.waitForLoadState();
      },
    },
    { name: 'not-found', open: async (page, workspace) => void (await page.goto(`${workspace.url}/no-such-page`)) },
  ];

  for (const scheme of schemes) {
    for (const { name, open } of pages) {
      it(`${name} in ${scheme}: the palette's colours, the logo, no serious axe violation`, async () => {
        for (const { accent, workspace } of workspaces) {
          const shades = deriveAccentShades(accent)[scheme];
          const context = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: scheme });
          try {
            const page = await context.newPage();
            await open(page, workspace);
            await page.emulateMedia({ colorScheme: scheme });
            const where = `${workspace.slug} ${name} (${scheme})`;
            // Expressions as strings: they run in the page, and this project's TypeScript has no DOM types.
            const colours = (await page.evaluate(`(() => {
              const style = (selector) => { const element = document.querySelector(selector); return element ? getComputedStyle(element) : null; };
              const logo = document.querySelector('.brand-logo');
              return {
                page: style('body').backgroundColor,
                card: style('main').backgroundColor,
                button: style('main .button:not(.secondary), main button:not(.secondary):not(.link):not(.reveal-button)')?.backgroundColor ?? null,
                link: style('main a:not(.button)')?.color ?? null,
                logoLoaded: logo !== null && logo.complete && logo.naturalWidth > 0,
              };
            })()`)) as { page: string; card: string; button: string | null; link: string | null; logoLoaded: boolean };
            expect(colours.page, where).toBe(computed(neutralPalettes[scheme].page));
            expect(colours.card, where).toBe(computed(neutralPalettes[scheme].card));
            if (colours.button) expect(colours.button, `${where}: button`).toBe(computed(shades.accent));
            if (colours.link) expect(colours.link, `${where}: link`).toBe(computed(shades.accentText));
            expect(colours.logoLoaded, `${where}: the logo loads under the page's CSP`).toBe(true);

            // The focus ring, on the first thing a keyboard reaches in the card.
            await page.locator('main a, main input, main button').first().focus();
            const ring = (await page.evaluate('getComputedStyle(document.activeElement).outlineColor')) as string;
            expect(ring, `${where}: focus ring`).toBe(computed(neutralPalettes[scheme].focus));

            for (const width of [390, 1280]) {
              await page.setViewportSize({ width, height: 844 });
              await page.screenshot({ path: `${screenshots}/${workspace.slug}-${name}-${scheme}-${width}.png`, fullPage: true });
              const overflow = (await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
              expect(overflow, `${where} at ${width} px scrolls sideways`).toBeLessThanOrEqual(0);
            }
            // axe runs as the test's own evaluation (DevTools protocol), which the page's CSP does not govern, so the
            // page keeps its policy: the logo above loaded under it.
            await page.evaluate(axeSource);
            const violations = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
              result.violations.map((violation) => ({ id: violation.id, impact: violation.impact, targets: violation.nodes.map((node) => node.target.join(' ')) })))`)) as {
              id: string;
              impact: string;
              targets: string[];
            }[];
            expect(violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical'), where).toEqual([]);
          } finally {
            await context.close();
          }
        }
      }, 120_000);
    }
  }
});
