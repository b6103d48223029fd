import { basename, extname } from 'node:path';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { UserFacingError } from '../core/errors.js';
import type { StoredImage } from '../core/request.js';

/**
 * Input-image checks. The declared content type and file name are never trusted: the real type
 * comes from the bytes, the image is decoded under a pixel limit, oriented by EXIF, stripped of
 * metadata (GPS and the like never leave the bot) and re-encoded as PNG, JPEG or WebP.
 */

export type ImageContentType = StoredImage['contentType'];

export interface ValidatedImage {
  bytes: Buffer;
  contentType: ImageContentType;
  width: number;
  height: number;
  filename: string;
}

export interface ValidateImageOptions {
  /** The name the user's file had; only its stem is kept, the extension follows the output type. */
  filename?: string;
  /** Largest accepted input file, in bytes. */
  maxBytes: number;
  /** Largest accepted input, in pixels (width × height). Default 40 megapixels. */
  maxPixels?: number;
  /** Largest accepted input side, in pixels. Default 8192. */
  maxSide?: number;
  /** Smallest accepted side, in pixels (after orientation). Default 64. */
  minSide?: number;
  /** The output's long side is scaled down to at most this many pixels. Default 2048. */
  maxOutputSide?: number;
}

export const DEFAULT_MAX_PIXELS = 40_000_000;
export const DEFAULT_MAX_SIDE = 8192;
export const DEFAULT_MIN_SIDE = 64;
export const DEFAULT_MAX_OUTPUT_SIDE = 2048;

export type ImageKind =
  | 'png'
  | 'jpeg'
  | 'webp'
  | 'gif'
  | 'avif'
  | 'heic'
  | 'tiff'
  | 'bmp'
  | 'ico'
  | 'jxl'
  | 'psd'
  | 'svg'
  | 'pdf'
  | 'html'
  | 'xml'
  | 'json'
  | 'text'
  | 'video'
  | 'audio'
  | 'archive'
  | 'empty'
  | 'unknown';

export interface ImageKindInfo {
  kind: ImageKind;
  /** True for raster image formats (whether or not this build can decode them). */
  isImage: boolean;
  /** Plain words for messages: "a PNG image", "a PDF document", "an HTML page". */
  description: string;
}

const DESCRIPTIONS: Record<ImageKind, string> = {
  png: 'a PNG image',
  jpeg: 'a JPEG image',
  webp: 'a WebP image',
  gif: 'a GIF image',
  avif: 'an AVIF image',
  heic: 'a HEIC photo',
  tiff: 'a TIFF image',
  bmp: 'a BMP image',
  ico: 'an icon file',
  jxl: 'a JPEG XL image',
  psd: 'a Photoshop document',
  svg: 'an SVG drawing',
  pdf: 'a PDF document',
  html: 'an HTML page',
  xml: 'an XML document',
  json: 'a JSON document',
  text: 'a text file',
  video: 'a video',
  audio: 'an audio file',
  archive: 'an archive',
  empty: 'an empty file',
  unknown: 'an unknown kind of file',
};

const RASTER: ReadonlySet<ImageKind> = new Set([
  'png',
  'jpeg',
  'webp',
  'gif',
  'avif',
  'heic',
  'tiff',
  'bmp',
  'ico',
  'jxl',
  'psd',
]);

/** Kinds this build decodes; the others get a "format not supported" message. */
const DECODABLE: ReadonlySet<ImageKind> = new Set(['png', 'jpeg', 'webp', 'gif', 'avif', 'heic', 'tiff']);

/** sharp's decoder names we accept; anything else is refused even if the magic said otherwise. */
const SHARP_FORMATS: ReadonlySet<string> = new Set(['png', 'jpeg', 'webp', 'gif', 'heif', 'avif', 'tiff']);

const info = (kind: ImageKind): ImageKindInfo => ({
  kind,
  isImage: RASTER.has(kind),
  description: DESCRIPTIONS[kind],
});

const startsWith = (bytes: Buffer, signature: readonly number[], offset = 0): boolean =>
  bytes.length >= offset + signature.length && signature.every((byte, i) => bytes[offset + i] === byte);

const ascii = (bytes: Buffer, start: number, end: number): string =>
  bytes.subarray(start, Math.min(end, bytes.length)).toString('latin1');

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1']);
const AVIF_BRANDS = new Set(['avif', 'avis']);
const AUDIO_BRANDS = new Set(['M4A ', 'M4B ', 'M4P ', 'F4A ', 'F4B ']);

/** ISO-BMFF (`ftyp`) files: AVIF, HEIC, mp4/mov/3gp, m4a. */
function describeFtyp(bytes: Buffer): ImageKind {
  const size = bytes.readUInt32BE(0);
  const end = Math.min(bytes.length, size >= 16 && size <= 4096 ? size : 64);
  const major = ascii(bytes, 8, 12);
  const brands = [major];
  for (let offset = 16; offset + 4 <= end; offset += 4) brands.push(ascii(bytes, offset, offset + 4));
  if (brands.some((brand) => AVIF_BRANDS.has(brand))) return 'avif';
  if (brands.some((brand) => HEIC_BRANDS.has(brand))) return 'heic';
  if (AUDIO_BRANDS.has(major)) return 'audio';
  return 'video';
}

/** Text detection on the first few KiB: no NUL bytes and valid UTF-8 (a cut-off last character allowed). */
function looksLikeText(head: Buffer): boolean {
  if (head.includes(0)) return false;
  let controls = 0;
  for (const byte of head) {
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) controls++;
  }
  if (controls > head.length / 100) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 3)));
    return true;
  } catch {
    return false;
  }
}

function describeText(head: Buffer): ImageKind {
  const text = head
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (/^<!doctype\s+html|^<html[\s>]|^<head[\s>]|^<body[\s>]/.test(text) || /<html[\s>]/.test(text)) {
    return 'html';
  }
  if (/<svg[\s>]/.test(text)) return 'svg';
  if (text.startsWith('<?xml')) return 'xml';
  if (text.startsWith('{') || text.startsWith('[')) return 'json';
  return 'text';
}

/** What a file really is, from its first bytes; the declared content type plays no part. */
export function describeImageKind(bytes: Buffer): ImageKindInfo {
  if (bytes.length === 0) return info('empty');
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return info('png');
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return info('jpeg');
  if (ascii(bytes, 0, 4) === 'RIFF') {
    const form = ascii(bytes, 8, 12);
    if (form === 'WEBP') return info('webp');
    if (form === 'AVI ') return info('video');
    if (form === 'WAVE') return info('audio');
    return info('unknown');
  }
  const head6 = ascii(bytes, 0, 6);
  if (head6 === 'GIF87a' || head6 === 'GIF89a') return info('gif');
  if (bytes.length >= 12 && ascii(bytes, 4, 8) === 'ftyp') return info(describeFtyp(bytes));
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) {
    return info('tiff');
  }
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) {
    return info('tiff');
  }
  if (ascii(bytes, 0, 2) === 'BM' && bytes.length >= 26) return info('bmp');
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00]) && bytes.length >= 6) return info('ico');
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) {
    return info('jxl');
  }
  if (ascii(bytes, 0, 4) === '8BPS') return info('psd');
  if (ascii(bytes, 0, 5) === '%PDF-') return info('pdf');
  if (startsWith(bytes, [0x1a, 0x45, 0xdf, 0xa3])) return info('video'); // Matroska / WebM
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0xba]) || startsWith(bytes, [0x00, 0x00, 0x01, 0xb3])) {
    return info('video'); // MPEG program / elementary stream
  }
  if (ascii(bytes, 0, 3) === 'FLV') return info('video');
  if (ascii(bytes, 0, 4) === 'OggS' || ascii(bytes, 0, 4) === 'fLaC' || ascii(bytes, 0, 3) === 'ID3') {
    return info('audio');
  }
  if (startsWith(bytes, [0xff, 0xfb]) || startsWith(bytes, [0xff, 0xf3]) || startsWith(bytes, [0xff, 0xf2])) {
    return info('audio'); // MPEG audio frame sync
  }
  if (
    startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]) ||
    startsWith(bytes, [0x1f, 0x8b]) ||
    startsWith(bytes, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]) ||
    ascii(bytes, 0, 4) === 'Rar!'
  ) {
    return info('archive');
  }
  const head = bytes.subarray(0, 4096);
  if (looksLikeText(head)) return info(describeText(head));
  return info('unknown');
}

const MIB = 1024 * 1024;

/** "25 MiB", "1.5 MiB", "600 KiB", "900 bytes". */
export function formatBytes(bytes: number): string {
  if (bytes >= MIB) return `${Number((bytes / MIB).toFixed(1))} MiB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KiB`;
  return `${bytes} bytes`;
}

function notAnImage(kind: ImageKindInfo): UserFacingError {
  switch (kind.kind) {
    case 'empty':
      return new UserFacingError('that file is empty');
    case 'html':
      return new UserFacingError(
        'that file is not an image (it looks like an HTML page, e.g. a sign-in page sent instead of the file, which is what Slack does when the bot is not allowed to read it)',
      );
    case 'unknown':
      return new UserFacingError(
        'that file is not an image (its contents are not a format the bot recognises); send a PNG, JPEG or WebP',
      );
    case 'svg':
      return new UserFacingError(
        'that file is an SVG drawing, which is not supported; export it as PNG or JPEG and send that',
      );
    default:
      return new UserFacingError(`that file is not an image (it looks like ${kind.description})`);
  }
}

function outputFilename(original: string | undefined, contentType: ImageContentType): string {
  const ext = contentType === 'image/png' ? '.png' : contentType === 'image/jpeg' ? '.jpg' : '.webp';
  const base = original ? basename(original.replace(/\\/g, '/')) : '';
  const stem = base
    .slice(0, base.length - extname(base).length)
    .replace(/[^\p{L}\p{N}._ -]+/gu, '_')
    .replace(/^[.\s_-]+/, '')
    .trim()
    .slice(0, 100);
  return `${stem || 'image'}${ext}`;
}

/**
 * Checks an input image and returns a normalised copy: oriented, metadata stripped, at most
 * `maxOutputSide` on the long side, PNG/JPEG/WebP (everything else, including the first frame of an
 * animation, becomes PNG). Throws UserFacingError with a plain message when it cannot be used.
 */
export async function validateImage(bytes: Buffer, options: ValidateImageOptions): Promise<ValidatedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxSide = options.maxSide ?? DEFAULT_MAX_SIDE;
  const minSide = options.minSide ?? DEFAULT_MIN_SIDE;
  const maxOutputSide = options.maxOutputSide ?? DEFAULT_MAX_OUTPUT_SIDE;

  if (bytes.length > options.maxBytes) {
    throw new UserFacingError(
      `the image is too large (${formatBytes(bytes.length)}; the limit is ${formatBytes(options.maxBytes)})`,
    );
  }
  const kind = describeImageKind(bytes);
  if (!kind.isImage) throw notAnImage(kind);
  if (!DECODABLE.has(kind.kind)) {
    throw new UserFacingError(
      `that file is ${kind.description}, which is not supported; send a PNG, JPEG or WebP`,
    );
  }

  const undecodable = (cause?: unknown) =>
    kind.kind === 'heic'
      ? new UserFacingError(
          'HEIC photos cannot be read here; send the picture as JPEG or PNG (on an iPhone: Settings → Camera → Formats → Most Compatible)',
          { cause },
        )
      : new UserFacingError('the image could not be decoded (the file may be damaged or incomplete)', {
          cause,
        });

  const sharpOptions = { limitInputPixels: maxPixels, failOn: 'truncated', pages: 1, page: 0 } as const;

  let metadata: Metadata;
  try {
    // Headers only: no pixels are decoded here, so the pixel limit is checked by hand below with a clearer message.
    metadata = await sharp(bytes, { ...sharpOptions, limitInputPixels: false }).metadata();
  } catch (error) {
    throw undecodable(error);
  }
  if (!SHARP_FORMATS.has(metadata.format)) throw undecodable();

  // For multi-page inputs `height` may cover every page; only the first is used.
  const width = metadata.width;
  const height = metadata.pageHeight && metadata.pageHeight > 0 ? metadata.pageHeight : metadata.height;
  if (!width || !height) throw undecodable();
  if (width * height > maxPixels || Math.max(width, height) > maxSide) {
    throw new UserFacingError(
      `the image is too large (${width}x${height}; at most ${Math.round(maxPixels / 1_000_000)} megapixels and ${maxSide} pixels on a side)`,
    );
  }
  const swapped = (metadata.orientation ?? 1) >= 5;
  const orientedWidth = swapped ? height : width;
  const orientedHeight = swapped ? width : height;
  if (orientedWidth < minSide || orientedHeight < minSide) {
    throw new UserFacingError(
      `the image is too small (${orientedWidth}x${orientedHeight}; min ${minSide}x${minSide})`,
    );
  }

  const contentType: ImageContentType =
    kind.kind === 'jpeg'
      ? 'image/jpeg'
      : kind.kind === 'webp' && (metadata.pages ?? 1) <= 1
        ? 'image/webp'
        : 'image/png';

  let pipeline = sharp(bytes, sharpOptions)
    .autoOrient()
    .resize({ width: maxOutputSide, height: maxOutputSide, fit: 'inside', withoutEnlargement: true });
  if (contentType === 'image/jpeg') pipeline = pipeline.jpeg({ quality: 92, mozjpeg: true });
  else if (contentType === 'image/webp') pipeline = pipeline.webp({ quality: 92 });
  else pipeline = pipeline.png({ compressionLevel: 6 });

  let output: { data: Buffer; info: OutputInfo };
  try {
    output = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (error) {
    if (error instanceof Error && /pixel limit/i.test(error.message)) {
      throw new UserFacingError(
        `the image is too large (at most ${Math.round(maxPixels / 1_000_000)} megapixels)`,
        { cause: error },
      );
    }
    throw undecodable(error);
  }

  return {
    bytes: output.data,
    contentType,
    width: output.info.width,
    height: output.info.height,
    filename: outputFilename(options.filename, contentType),
  };
}
