import { describe, expect, it } from 'vitest';
import { contrastRatio, formatHexColor, formatRatio, mixColors, parseHexColor, relativeLuminance } from './color-contrast.js';

const rgb = (text: string) => parseHexColor(text)!;

describe('WCAG contrast maths, known answers', () => {
  it.each([
    ['#1d4ed8', '#ffffff', '6.70:1'],
    ['#000000', '#ffffff', '21.00:1'],
    ['#777777', '#ffffff', '4.47:1'],
    ['#767676', '#ffffff', '4.54:1'],
    ['#1f2328', '#ffffff', '15.79:1'],
    ['#ffffff', '#ffffff', '1.00:1'],
  ])('%s on %s is %s', (a, b, expected) => {
    expect(formatRatio(contrastRatio(rgb(a), rgb(b)))).toBe(expected);
    expect(formatRatio(contrastRatio(rgb(b), rgb(a))), 'the order does not matter').toBe(expected);
  });

  it('gives white a luminance of 1, black 0, and mid grey (#777) about 0.184', () => {
    expect(relativeLuminance(rgb('#ffffff'))).toBe(1);
    expect(relativeLuminance(rgb('#000000'))).toBe(0);
    expect(relativeLuminance(rgb('#777777'))).toBeCloseTo(0.1845, 3);
  });

  it('truncates a ratio rather than rounding it up to a passing one', () => {
    expect(formatRatio(4.4999)).toBe('4.49:1');
  });
});

describe('reading colours', () => {
  it('reads #RRGGBB in either case and writes it back in lower case', () => {
    expect(formatHexColor(rgb('#1D4ED8'))).toBe('#1d4ed8');
  });

  it.each(['#fff', '1d4ed8', 'red', 'rgb(0,0,0)', '#1d4ed8;}</style><script>', '#1d4ed8 ', '#gggggg', ''])('refuses %j', (text) => {
    expect(parseHexColor(text)).toBeNull();
  });

  it('mixes towards another colour channel by channel', () => {
    expect(formatHexColor(mixColors(rgb('#000000'), rgb('#ffffff'), 0.5))).toBe('#808080');
    expect(formatHexColor(mixColors(rgb('#1d4ed8'), rgb('#000000'), 0))).toBe('#1d4ed8');
  });
});
