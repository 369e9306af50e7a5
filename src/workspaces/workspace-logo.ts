import { createHash } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';
import type { Kysely } from 'kysely';
import type { Database, WorkspaceLogoTable } from '../storage/schema.js';

/** Enough for a crisp logo many times over; a sign-in page should not wait for more. */
export const maxLogoBytes = 512 * 1024;
/** Pixels per side: pages show a logo 40 px high, and a huge image costs every browser memory. */
export const maxLogoSide = 2048;
/**
 * Pixels in all (a 2048 × 512 wordmark, a 1024 × 1024 square): what every page view and HTML mail
 * decodes, at most 8 MB however well the file compresses. A side limit alone let a 130 KB PNG of
 * 4096 × 4096 decode to 134 MB in every browser (a decompression bomb).
 */
export const maxLogoPixels = 1024 * 1024;

type LogoContentType = WorkspaceLogoTable['content_type'];

/** The types a logo may have, by what its bytes are. SVG is not among them: it can carry script. */
const logoTypes: Record<string, LogoContentType> = { 'image/png': 'image/png', 'image/jpeg': 'image/jpeg', 'image/webp': 'image/webp' };

export interface LogoImage {
  /** sha256 of the bytes, hex. */
  hash: string;
  contentType: LogoContentType;
  bytes: Buffer;
}

export type LogoReading = { ok: true; logo: LogoImage } | { ok: false; reason: string };

/**
 * Checks a logo file by its content, never its name: PNG, JPEG or WebP (by the bytes' signature,
 * which `file-type` reads), whole (it ends where its format says it ends), at most 512 KB, 2048
 * pixels a side and a million pixels (`image-size` reads the header).
 */
export async function readLogoImage(bytes: Uint8Array, fileName: string): Promise<LogoReading> {
  const buffer = Buffer.from(bytes);
  if (buffer.length > maxLogoBytes) {
    return { ok: false, reason: `--logo ${fileName} is larger than ${maxLogoBytes / 1024} KB, the most a logo may be; save it smaller (a logo is shown 40 pixels high)` };
  }
  const detected = await fileTypeFromBuffer(buffer);
  const contentType = detected ? logoTypes[detected.mime] : undefined;
  if (!contentType) {
    const what = detected ? `a ${detected.ext.toUpperCase()} file` : 'not a PNG, JPEG or WebP image (SVG is not accepted: it can carry script)';
    return { ok: false, reason: `--logo ${fileName} is ${what}; use a PNG, JPEG or WebP image` };
  }
  let size: { width?: number; height?: number };
  try {
    size = imageSize(buffer);
  } catch {
    return { ok: false, reason: `--logo ${fileName} looks like ${detected!.ext.toUpperCase()} but cannot be read as an image` };
  }
  if (!size.width || !size.height) return { ok: false, reason: `--logo ${fileName} has no readable width and height` };
  if (size.width > maxLogoSide || size.height > maxLogoSide || size.width * size.height > maxLogoPixels) {
    return {
      ok: false,
      reason: `--logo ${fileName} is ${size.width}×${size.height} pixels; a logo may be at most ${maxLogoSide} pixels a side and ${maxLogoPixels.toLocaleString('en')} pixels in all (2048×512, 1024×1024); it is shown 40 pixels high`,
    };
  }
  if (!endsWhereItsFormatSays(buffer, contentType)) {
    return { ok: false, reason: `--logo ${fileName} is cut short or carries data after its end; save it again as a ${detected!.ext.toUpperCase()} file` };
  }
  return { ok: true, logo: { hash: createHash('sha256').update(buffer).digest('hex'), contentType, bytes: buffer } };
}

const pngEnd = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/**
 * Whether the file ends where its format says: a PNG with its IEND chunk, a JPEG with its
 * end-of-image marker, a WebP where its RIFF header's size says. A header alone passed the checks
 * above, and so did a header followed by a page of HTML; such a file would be served for a year.
 */
function endsWhereItsFormatSays(bytes: Buffer, contentType: LogoContentType): boolean {
  switch (contentType) {
    case 'image/png':
      return bytes.length > pngEnd.length && bytes.subarray(bytes.length - pngEnd.length).equals(pngEnd);
    case 'image/jpeg':
      return bytes.length > 4 && bytes[bytes.length - 2] === 0xff && bytes[bytes.length - 1] === 0xd9;
    case 'image/webp':
      return bytes.length >= 12 && bytes.readUInt32LE(4) + 8 === bytes.length;
  }
}

/** Keeps a logo of a workspace; the same picture again is already there. Earlier logos stay, so mails already sent still show theirs. */
export async function saveWorkspaceLogo(db: Kysely<Database>, now: number, workspaceId: string, logo: LogoImage): Promise<void> {
  await db
    .insertInto('workspace_logos')
    .values({ workspace_id: workspaceId, hash: logo.hash, content_type: logo.contentType, data_base64: logo.bytes.toString('base64'), created_at: now })
    .onConflict((conflict) => conflict.columns(['workspace_id', 'hash']).doNothing())
    .execute();
}

/** A stored logo, as served. */
export interface WorkspaceLogo {
  contentType: LogoContentType;
  bytes: Buffer;
}

/** A logo of this workspace by its hash, or null: another workspace's hash is as unknown as a made-up one. */
export async function findWorkspaceLogo(db: Kysely<Database>, workspaceId: string, hash: string): Promise<WorkspaceLogo | null> {
  const row = await db
    .selectFrom('workspace_logos')
    .select(['content_type', 'data_base64'])
    .where('workspace_id', '=', workspaceId)
    .where('hash', '=', hash)
    .executeTakeFirst();
  return row ? { contentType: row.content_type, bytes: Buffer.from(row.data_base64, 'base64') } : null;
}

/** Where a logo is served on its workspace's address: the hash in the path makes it cacheable for ever. */
export function logoPath(hash: string): string {
  return `/assets/logo-${hash}`;
}

/** The hash in a logo path's last segment (`logo-<64 hex>`), or null. */
export function hashFromLogoFileName(fileName: string): string | null {
  const match = /^logo-([0-9a-f]{64})$/.exec(fileName);
  return match ? match[1]! : null;
}
