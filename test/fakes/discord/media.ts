import { createHmac } from 'node:crypto';

const EXTENSION_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jfif: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  txt: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
  pdf: 'application/pdf',
  zip: 'application/zip',
};

/** The content type Discord reports: from the file extension, else what the client declared. */
export function guessContentType(filename: string, declared?: string | null): string | null {
  const ext = filename.toLowerCase().split('.').pop() ?? '';
  const byExt = filename.includes('.') ? EXTENSION_TYPES[ext] : undefined;
  if (byExt) return byExt;
  if (declared && declared !== 'application/octet-stream') return declared;
  return declared ?? null;
}

/** Width and height of a PNG, GIF, JPEG or WebP image, or null when the bytes are not one of those. */
export function imageSize(bytes: Uint8Array): { width: number; height: number } | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.toString('latin1', 12, 16) === 'IHDR') {
    return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  }
  if (b.length >= 10 && b.toString('latin1', 0, 4) === 'GIF8') {
    return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  }
  if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') {
    const chunk = b.toString('latin1', 12, 16);
    if (chunk === 'VP8X') return { width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
    if (chunk === 'VP8 ') return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = b.readUInt32LE(21);
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
    }
    return null;
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1] ?? 0;
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        i += 2;
        continue;
      }
      const len = b.readUInt16BE(i + 2);
      const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isSof) return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
      i += 2 + len;
    }
  }
  return null;
}

/** Signs CDN paths the way Discord's signed attachment URLs look: `?ex=<hex>&is=<hex>&hm=<hex>&`. */
export class UrlSigner {
  constructor(private readonly secret: string) {}

  sign(path: string, issuedSec: number, expiresSec: number, generation: number): string {
    return createHmac('sha256', this.secret)
      .update(`${path}|${issuedSec}|${expiresSec}|${generation}`)
      .digest('hex');
  }

  query(path: string, issuedSec: number, expiresSec: number, generation: number): string {
    const ex = expiresSec.toString(16);
    const is = issuedSec.toString(16);
    return `?ex=${ex}&is=${is}&hm=${this.sign(path, issuedSec, expiresSec, generation)}&`;
  }

  verify(path: string, params: URLSearchParams, generation: number, nowMs: number): boolean {
    const ex = params.get('ex');
    const is = params.get('is');
    const hm = params.get('hm');
    if (!ex || !is || !hm) return false;
    const exSec = Number.parseInt(ex, 16);
    const isSec = Number.parseInt(is, 16);
    if (!Number.isFinite(exSec) || !Number.isFinite(isSec)) return false;
    if (this.sign(path, isSec, exSec, generation) !== hm) return false;
    return exSec * 1000 > nowMs;
  }
}
