import { createHash } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';
import type { Kysely } from 'kysely';
import type { Database, WorkspaceLogoTable } from '../storage/schema.js';

/** Enough for a crisp logo many times over; a sign-in page should not wait for more. */
export const maxLogoBytes = 512 * 1024;
/** Pixels per side: pages show a logo 40 px high, and a huge image costs every browser memory. */
export const maxLogoSide = 4096;

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
 * which `file-type` reads), at most 512 KB and 4096 pixels a side (`image-size` reads the header).
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
  if (size.width > maxLogoSide || size.height > maxLogoSide) {
    return { ok: false, reason: `--logo ${fileName} is ${size.width}×${size.height} pixels; a logo may be at most ${maxLogoSide} pixels a side` };
  }
  return { ok: true, logo: { hash: createHash('sha256').update(buffer).digest('hex'), contentType, bytes: buffer } };
}

/** Keeps a logo of a workspace; the same picture again is already there. Earlier logos stay, so mails already sent still show theirs. */
export async function saveWorkspaceLogo(db: Kysely<Database>, now: number, workspaceId: string, logo: LogoImage): Promise<void> {
  await db
    .insertInto('workspace_logos')
    .values({ workspace_id: workspaceId, hash: logo.hash, content_type: logo.contentType, data_base64: logo.bytes.toString('base64'), created_at: now })
    .onConflict((conflict) => conflict.columns(['workspace_id', 'hash']).doNothing())
    .execute();
}

/** A logo of this workspace by its hash, or null: another workspace's hash is as unknown as a made-up one. */
export async function findWorkspaceLogo(db: Kysely<Database>, workspaceId: string, hash: string): Promise<{ contentType: LogoContentType; bytes: Buffer } | null> {
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
