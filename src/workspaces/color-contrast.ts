/**
 * WCAG 2.x colour contrast: relative luminance of sRGB colours and the ratio between two of them
 * (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio). Colours are `#rrggbb` only, read into numbers
 * and written back from numbers, so nothing but six hex digits ever leaves this module.
 */

/** Red, green and blue, each 0 to 255. */
export type Rgb = readonly [number, number, number];

/** `#rrggbb` (either case) as numbers, or null for anything else (`#fff`, names, `rgb()`, `</style>`). */
export function parseHexColor(text: string): Rgb | null {
  const match = /^#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$/.exec(text);
  if (!match) return null;
  return [parseInt(match[1]!, 16), parseInt(match[2]!, 16), parseInt(match[3]!, 16)];
}

/** `#rrggbb` in lower case. */
export function formatHexColor(rgb: Rgb): string {
  return `#${rgb.map((channel) => Math.round(Math.min(255, Math.max(0, channel))).toString(16).padStart(2, '0')).join('')}`;
}

/** WCAG relative luminance, 0 (black) to 1 (white). */
export function relativeLuminance(rgb: Rgb): number {
  const [r, g, b] = rgb.map((channel) => {
    const c = channel / 255;
    // WCAG 2.x writes 0.03928; the sRGB standard's 0.04045 gives the same result for 8-bit values.
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The contrast ratio of two colours, 1 to 21, whichever is lighter. */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const [lighter, darker] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [number, number];
  return (lighter + 0.05) / (darker + 0.05);
}

/** `from` moved `share` (0 to 1) of the way towards `to`, channel by channel in sRGB, rounded to whole values. */
export function mixColors(from: Rgb, to: Rgb, share: number): Rgb {
  return [0, 1, 2].map((i) => Math.round(from[i]! + (to[i]! - from[i]!) * share)) as unknown as Rgb;
}

/** A ratio as people read it: 6.70:1, truncated rather than rounded, so 4.497 never shows as a passing 4.50. */
export function formatRatio(ratio: number): string {
  return `${(Math.floor(ratio * 100) / 100).toFixed(2)}:1`;
}
