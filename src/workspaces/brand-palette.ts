import { contrastRatio, formatHexColor, formatRatio, mixColors, parseHexColor, type Rgb } from './color-contrast.js';

/**
 * The colours every page is drawn with, light and dark (issue 18 items 1 and 3), and the shades of a
 * workspace's accent colour derived from them. Pages get them as CSS custom properties from
 * `paletteCss`; `views/partials/styles.eta` uses only the properties, never a colour of its own.
 */
export interface NeutralPalette {
  page: string;
  card: string;
  ink: string;
  muted: string;
  line: string;
  /** Borders of form fields: 3:1 against the card and the field (WCAG 1.4.11). */
  fieldLine: string;
  fieldBg: string;
  danger: string;
  ok: string;
  alertBg: string;
  noticeBg: string;
  /** The focus ring, drawn 2 px outside what has focus, so it sits on the card or the page. */
  focus: string;
}

export const neutralPalettes: { readonly light: NeutralPalette; readonly dark: NeutralPalette } = {
  light: {
    page: '#f4f5f7', card: '#ffffff', ink: '#1f2328', muted: '#4b5563', line: '#d0d7de', fieldLine: '#8c959f', fieldBg: '#ffffff',
    danger: '#b42318', ok: '#067647', alertBg: '#fef3f2', noticeBg: '#ecfdf3', focus: '#000000',
  },
  // Calm rather than black: a dark blue-grey page, a card one step lighter, off-white text.
  dark: {
    page: '#0f1217', card: '#181c23', ink: '#e7eaee', muted: '#a7b0bc', line: '#353c47', fieldLine: '#7d8694', fieldBg: '#11151b',
    danger: '#ff9c90', ok: '#5ad38f', alertBg: '#2c1c1e', noticeBg: '#13291f', focus: '#f4f6f8',
  },
};

/** The accent of a workspace that set none. */
export const defaultAccentColor = '#1d4ed8';

/** What the accent colour becomes in one colour scheme. */
export interface AccentShades {
  /** Button fills. */
  accent: string;
  /** Text on a button fill: black or white, whichever contrasts more. */
  accentInk: string;
  /** Links and other accent-coloured text: 4.5:1 on every surface such text sits on. */
  accentText: string;
  /** A faint wash of the accent behind informational notices and tags, which carry ink-coloured text. */
  accentTint: string;
}

/** WCAG 1.4.3 (AA) for text, 1.4.11 for what tells a control apart. */
const textContrast = 4.5;
const nonTextContrast = 3;

const black: Rgb = [0, 0, 0];
const white: Rgb = [255, 255, 255];

export type AccentColorReading = { ok: true; color: string } | { ok: false; reason: string };

/**
 * Reads `--accent-color`: `#RRGGBB`, which buttons are filled with on the light card. A colour
 * standing less than 3:1 from the white card is refused, naming its ratio and a darker shade of it
 * that reaches 3:1: a button filled with it would not read as a button (WCAG 1.4.11). Text on the
 * fill is never the reason: black or white reaches at least 4.58:1 on every colour. Link colours
 * and the dark scheme's shades are derived (`deriveAccentShades`), so they never refuse a colour.
 */
export function readAccentColor(text: string): AccentColorReading {
  const rgb = parseHexColor(text.trim());
  if (!rgb) return { ok: false, reason: `--accent-color "${text}" is not a colour: write it as #RRGGBB, such as #1d4ed8` };
  const color = formatHexColor(rgb);
  const card = parseHexColor(neutralPalettes.light.card)!;
  const ratio = contrastRatio(rgb, card);
  if (ratio < nonTextContrast) {
    const suggestion = formatHexColor(shadeReaching(rgb, black, [card], nonTextContrast));
    return {
      ok: false,
      reason: `--accent-color ${color} is too light: it stands ${formatRatio(ratio)} against the white card, and a button filled with it needs at least 3:1 to be seen as one (WCAG 1.4.11); a darker shade of it that does: ${suggestion}`,
    };
  }
  return { ok: true, color };
}

/**
 * The accent's shades in both colour schemes. Light: buttons are filled with the accent itself;
 * link text is the accent moved towards black in 1% steps (mixed in sRGB, so the hue stays) until it
 * reaches 4.5:1 on the card, the page, alerts, notices and the tint, often not at all. Dark: the
 * accent moved towards white the same way until it reaches 4.5:1 on the dark surfaces, for both
 * links and button fills, since a brand colour dark enough for a white card is too dark on a dark one.
 */
export function deriveAccentShades(color: string): { light: AccentShades; dark: AccentShades } {
  const accent = parseHexColor(color) ?? parseHexColor(defaultAccentColor)!;
  return {
    light: shadesFor(accent, neutralPalettes.light, { towards: black, tintShare: 0.08, fill: 'accent' }),
    dark: shadesFor(accent, neutralPalettes.dark, { towards: white, tintShare: 0.16, fill: 'text shade' }),
  };
}

function shadesFor(accent: Rgb, palette: NeutralPalette, how: { towards: Rgb; tintShare: number; fill: 'accent' | 'text shade' }): AccentShades {
  const tint = mixColors(parseHexColor(palette.card)!, accent, how.tintShare);
  const surfaces = [palette.card, palette.page, palette.alertBg, palette.noticeBg].map((surface) => parseHexColor(surface)!).concat([tint]);
  const text = shadeReaching(accent, how.towards, surfaces, textContrast);
  const fill = how.fill === 'accent' ? accent : text;
  return { accent: formatHexColor(fill), accentInk: formatHexColor(inkFor(fill)), accentText: formatHexColor(text), accentTint: formatHexColor(tint) };
}

/** Black or white, whichever contrasts more with `fill`; the worse of the two best cases is 4.58:1. */
export function inkFor(fill: Rgb): Rgb {
  return contrastRatio(fill, white) >= contrastRatio(fill, black) ? white : black;
}

/** The first of `color` mixed 0%, 1%, … 100% towards `towards` that reaches `minimum` against every surface. */
function shadeReaching(color: Rgb, towards: Rgb, surfaces: Rgb[], minimum: number): Rgb {
  for (let percent = 0; percent <= 100; percent += 1) {
    const candidate = mixColors(color, towards, percent / 100);
    if (surfaces.every((surface) => contrastRatio(candidate, surface) >= minimum)) return candidate;
  }
  return towards;
}

const propertyNames: Record<keyof NeutralPalette | keyof AccentShades, string> = {
  page: '--bg', card: '--card', ink: '--ink', muted: '--muted', line: '--line', fieldLine: '--field-line', fieldBg: '--field-bg',
  danger: '--danger', ok: '--ok', alertBg: '--alert-bg', noticeBg: '--notice-bg', focus: '--focus',
  accent: '--accent', accentInk: '--accent-ink', accentText: '--accent-text', accentTint: '--accent-tint',
};

/**
 * The custom properties of a page, light first, dark under `prefers-color-scheme: dark`. Every
 * value is a colour this module wrote from numbers, never text a workspace typed, so nothing in it
 * can close the `<style>` element or add a rule.
 */
export function paletteCss(accentColor: string | null): string {
  const shades = deriveAccentShades(accentColor ?? defaultAccentColor);
  const properties = (palette: NeutralPalette & AccentShades) =>
    (Object.keys(propertyNames) as (keyof typeof propertyNames)[]).map((key) => `${propertyNames[key]}:${formatHexColor(parseHexColor(palette[key])!)}`).join(';');
  return `:root{color-scheme:light dark;${properties({ ...neutralPalettes.light, ...shades.light })}}@media (prefers-color-scheme:dark){:root{${properties({ ...neutralPalettes.dark, ...shades.dark })}}}`;
}
