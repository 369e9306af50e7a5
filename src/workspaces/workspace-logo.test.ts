import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hashFromLogoFileName, logoPath, maxLogoBytes, readLogoImage } from './workspace-logo.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/branding/${name}`, import.meta.url));
const png = readFileSync(new URL('../../assets/demo-logo.png', import.meta.url));

/** The demo PNG with its header claiming another size (image-size reads the header, not the pixels). */
function pngClaiming(width: number, height: number): Buffer {
  const copy = Buffer.from(png);
  copy.writeUInt32BE(width, 16);
  copy.writeUInt32BE(height, 20);
  return copy;
}

describe('readLogoImage: by content, never by name', () => {
  it.each([
    ['demo-logo.png', png, 'image/png'],
    ['logo.jpg', fixture('logo.jpg'), 'image/jpeg'],
    ['logo.webp', fixture('logo.webp'), 'image/webp'],
    ['a JPEG named logo.png', fixture('logo.jpg'), 'image/jpeg'],
  ])('takes %s as %s', async (name, bytes, contentType) => {
    const read = await readLogoImage(bytes, name);
    expect(read).toEqual({ ok: true, logo: { hash: createHash('sha256').update(bytes).digest('hex'), contentType, bytes: Buffer.from(bytes) } });
  });

  it.each([
    ['text-renamed.png', fixture('text-renamed.png'), 'not a PNG, JPEG or WebP image'],
    ['logo.svg', fixture('logo.svg'), 'SVG is not accepted'],
    ['a GIF', Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(32)]), 'is a GIF file'],
    ['a PNG of 5000×10 pixels', pngClaiming(5000, 10), '5000×10 pixels'],
    // Within 2048 a side but 2.25 million pixels: a small file can decode to a huge picture.
    ['a PNG of 1500×1500 pixels', pngClaiming(1500, 1500), '1500×1500 pixels'],
    ['a PNG over 512 KB', Buffer.concat([png, Buffer.alloc(maxLogoBytes)]), 'larger than 512 KB'],
    // A header alone reads as a PNG of some size; so does a header followed by a page of HTML.
    ['a PNG signature and header only', png.subarray(0, 33), 'cut short'],
    ['a PNG with HTML after its end', Buffer.concat([png, Buffer.from('<html><script>alert(1)</script>')]), 'carries data after its end'],
    ['a JPEG with data after its end', Buffer.concat([fixture('logo.jpg'), Buffer.from('trailing')]), 'carries data after its end'],
    ['a WebP shorter than its header says', fixture('logo.webp').subarray(0, fixture('logo.webp').length - 10), 'cut short'],
    ['a JPEG cut short', fixture('logo.jpg').subarray(0, 40), 'cannot be read as an image'],
    ['a WebP header with no picture', Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), Buffer.alloc(20)]), 'no readable width and height'],
  ])('refuses %s, saying why', async (name, bytes, reason) => {
    const read = await readLogoImage(bytes, name);
    expect(read).toEqual({ ok: false, reason: expect.stringContaining(reason) });
  });
});

describe('logo paths', () => {
  it('carry the hash, and only a 64-hex hash is read back', () => {
    const hash = 'a'.repeat(64);
    expect(logoPath(hash)).toBe(`/assets/logo-${hash}`);
    expect(hashFromLogoFileName(`logo-${hash}`)).toBe(hash);
    for (const name of [`logo-${hash}.png`, `logo-${'A'.repeat(64)}`, 'logo-abc', `logo-${hash}x`, '../logo']) expect(hashFromLogoFileName(name)).toBeNull();
  });
});
