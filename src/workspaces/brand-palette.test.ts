import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deriveAccentShades, inkFor, neutralPalettes, paletteCss, readAccentColor, type NeutralPalette } from './brand-palette.js';
import { contrastRatio, formatHexColor, parseHexColor, type Rgb } from './color-contrast.js';

const rgb = (text: string) => parseHexColor(text)!;
const ratio = (a: string, b: string) => contrastRatio(rgb(a), rgb(b));
const schemes = ['light', 'dark'] as const;

/** Every 17th value of each channel: 4,096 colours across the whole cube. */
function everyColour(): Rgb[] {
  const steps = Array.from({ length: 16 }, (_, i) => i * 17);
  return steps.flatMap((r) => steps.flatMap((g) => steps.map((b): Rgb => [r, g, b])));
}

describe('the neutral palettes', () => {
  it.each(schemes)('%s: every text colour reaches 4.5:1 on every background it is drawn on', (scheme) => {
    const p: NeutralPalette = neutralPalettes[scheme];
    for (const text of [p.ink, p.muted, p.danger]) {
      for (const background of [p.page, p.card, p.alertBg, p.noticeBg, p.fieldBg]) {
        expect(ratio(text, background), `${text} on ${background}`).toBeGreaterThanOrEqual(4.5);
      }
    }
  });

  it.each(schemes)('%s: form field borders reach 3:1 on the card and inside the field (WCAG 1.4.11)', (scheme) => {
    const p = neutralPalettes[scheme];
    expect(ratio(p.fieldLine, p.card)).toBeGreaterThanOrEqual(3);
    expect(ratio(p.fieldLine, p.fieldBg)).toBeGreaterThanOrEqual(3);
  });

  it('styles.eta writes no colour of its own: every colour comes from the palette', () => {
    const styles = readFileSync(new URL('../../views/partials/styles.eta', import.meta.url), 'utf8').replace(/\/\*.*?\*\//gs, '');
    expect(styles).not.toMatch(/#[0-9a-f]{3,8}\b/i);
    expect(styles).not.toMatch(/\b(rgb|hsl)a?\((?!0,0,0,\.0\d\))/);
  });
});

describe('accent colours', () => {
  it('takes #1d4ed8 as it is: white text on it at 6.70:1, links in it at 6.70:1 on the card', () => {
    expect(readAccentColor('#1D4ED8')).toEqual({ ok: true, color: '#1d4ed8' });
    const light = deriveAccentShades('#1d4ed8').light;
    expect(light).toMatchObject({ accent: '#1d4ed8', accentInk: '#ffffff', accentText: '#1d4ed8' });
  });

  it('refuses a colour too light to fill a button on the white card, naming its ratio and a darker shade that passes', () => {
    const read = readAccentColor('#facc15');
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.reason).toContain('1.53:1');
    expect(read.reason).toContain('3:1');
    const suggested = /#[0-9a-f]{6}$/.exec(read.reason)![0];
    expect(ratio(suggested, '#ffffff')).toBeGreaterThanOrEqual(3);
    expect(readAccentColor(suggested).ok).toBe(true);
  });

  it.each(['#fff', 'blue', '#1d4ed8;}</style><script>alert(1)</script>', '#1d4ed8"'])('refuses %j as not a colour, saying how to write one', (text) => {
    const read = readAccentColor(text);
    expect(read).toEqual({ ok: false, reason: expect.stringContaining('#RRGGBB') });
  });

  it('black or white text reaches at least 4.58:1 on every colour, so text never refuses one', () => {
    let worst = 21;
    for (const colour of everyColour()) worst = Math.min(worst, contrastRatio(colour, inkFor(colour)));
    expect(worst).toBeGreaterThanOrEqual(4.5);
  });

  it('for every accepted colour, in light and dark: button text 4.5:1 on its fill, links 4.5:1 on every surface, focus ring 3:1', () => {
    let accepted = 0;
    for (const colour of everyColour()) {
      const hex = formatHexColor(colour);
      if (!readAccentColor(hex).ok) continue;
      accepted += 1;
      const shades = deriveAccentShades(hex);
      for (const scheme of schemes) {
        const p = neutralPalettes[scheme];
        const s = shades[scheme];
        const where = `${hex} (${scheme})`;
        expect(ratio(s.accentInk, s.accent), `${where}: button text`).toBeGreaterThanOrEqual(4.5);
        for (const surface of [p.card, p.page, p.alertBg, p.noticeBg, s.accentTint]) {
          expect(ratio(s.accentText, surface), `${where}: link on ${surface}`).toBeGreaterThanOrEqual(4.5);
          expect(ratio(p.focus, surface), `${where}: focus ring on ${surface}`).toBeGreaterThanOrEqual(3);
        }
        expect(ratio(p.ink, s.accentTint), `${where}: text on the tint`).toBeGreaterThanOrEqual(4.5);
      }
      expect(shades.light.accent, 'the light scheme fills buttons with the colour as chosen').toBe(hex);
    }
    expect(accepted).toBeGreaterThan(2000);
  });

  it('lightens a dark accent for the dark scheme, keeping its hue', () => {
    const dark = deriveAccentShades('#1e3a8a').dark;
    expect(ratio(dark.accentText, neutralPalettes.dark.card)).toBeGreaterThanOrEqual(4.5);
    const [r, g, b] = rgb(dark.accentText);
    expect(b).toBeGreaterThan(r);
    expect(b).toBeGreaterThan(g);
  });
});

describe('paletteCss', () => {
  it('holds custom properties of six-digit colours and nothing else, light then dark', () => {
    const css = paletteCss('#0f766e');
    expect(css).toMatch(/^:root\{color-scheme:light dark;(--[a-z-]+:#[0-9a-f]{6};?)+\}@media \(prefers-color-scheme:dark\)\{:root\{(--[a-z-]+:#[0-9a-f]{6};?)+\}\}$/);
    expect(css).toContain('--accent:#0f766e');
  });

  it('falls back to the default accent for a stored value that is not a colour, so a bad row cannot write CSS', () => {
    const hostile = paletteCss('red;}</style><script>alert(1)</script>');
    expect(hostile).toBe(paletteCss(null));
    expect(hostile).not.toContain('<');
  });
});
