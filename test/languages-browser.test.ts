import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspace, updateWorkspace } from '../src/workspaces/workspaces.js';
import { launchChromium } from './helpers/chromium.js';
import { SmtpSink } from './helpers/smtp-sink.js';
import { startTestPortico, type TestPortico } from './helpers/test-portico.js';

const screenshots = 'test-results/screenshots';

/** issue 18 item 2 in a real browser set to German: the live countdown and the page's own script speak German. */
describe('a German browser in Chromium', () => {
  let sink: SmtpSink;
  let server: TestPortico;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    sink = await new SmtpSink().start();
    server = await startTestPortico({ dialect: 'sqlite', smtpUrl: sink.url });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop({ dropDatabase: true });
    await sink?.stop();
  });

  it('counts down in German to when another link can be asked for, and says "now" in German', async () => {
    const port = new URL(server.portico.address).port;
    const created = await createWorkspace(server.portico.context.db, server.clock, { name: 'Hafenstudio', url: `http://hafenstudio.test:${port}` });
    const workspace = await updateWorkspace(server.portico.context.db, created.slug, { limits: { limitEmailCooldown: '8s' } });
    // Chromium sends Accept-Language from its locale, as a browser set to German does.
    const context = await browser.newContext({ locale: 'de-DE' });
    const page = await context.newPage();
    await page.goto(`${workspace.url}/magic-login`);
    await expect(page.locator('html').getAttribute('lang')).resolves.toBe('de');
    await page.getByLabel('E-Mail-Adresse').fill('hafen@example.com');
    await page.getByRole('button', { name: 'Anmeldelink per E-Mail senden' }).click();
    await page.getByRole('heading', { name: 'Bitte prüfen Sie Ihr Postfach' }).waitFor();
    const again = page.getByRole('button', { name: 'Weiteren Link senden' });
    await expect(again.isDisabled()).resolves.toBe(true);
    const countdown = page.locator('[data-countdown] time');
    const first = await countdown.textContent();
    expect(first).toMatch(/^[1-8] Sekunden?$/);
    await page.screenshot({ path: `${screenshots}/languages-countdown-de.png`, fullPage: true });
    if (first !== '1 Sekunde') await expect.poll(() => countdown.textContent(), { timeout: 15_000 }).toMatch(/^[1-7] Sekunden?$/);
    await page.locator('[data-countdown-text]', { hasText: 'Sie können jetzt einen weiteren Link anfordern.' }).waitFor({ timeout: 30_000 });
    await expect(page.locator('[data-countdown-status]').textContent()).resolves.toBe('Sie können jetzt einen weiteren Link anfordern.');
    await expect(again.isEnabled()).resolves.toBe(true);

    // The password field's show button, which the page's script adds, is named in German too.
    await page.goto(`${workspace.url}/login`);
    await expect(page.getByRole('button', { name: 'Anzeigen (Passwort)' }).count()).resolves.toBe(1);
    await context.close();
  }, 60_000);
});
