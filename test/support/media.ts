import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { ffmpegPath, ffprobePath } from '../../src/media/binaries.js';

/** Test media: small images made with sharp, short mp4s made with ffmpeg's lavfi sources. */

export interface ImageOptions {
  /** Fill colour, default a mid orange. */
  background?: { r: number; g: number; b: number; alpha?: number };
  /** Add an alpha channel. */
  alpha?: boolean;
}

function base(width: number, height: number, options: ImageOptions = {}) {
  const { r, g, b, alpha = 1 } = options.background ?? { r: 230, g: 120, b: 40 };
  return sharp({
    create: {
      width,
      height,
      channels: options.alpha ? 4 : 3,
      background: { r, g, b, alpha },
    },
  });
}

export const makePng = (width: number, height: number, options?: ImageOptions): Promise<Buffer> =>
  base(width, height, options).png().toBuffer();

/** A JPEG; `orientation` (1–8) writes that EXIF Orientation tag without rotating the pixels. */
export const makeJpeg = (
  width: number,
  height: number,
  options: ImageOptions & { orientation?: number } = {},
): Promise<Buffer> => {
  let image = base(width, height, options).jpeg({ quality: 85 });
  if (options.orientation) image = image.withMetadata({ orientation: options.orientation });
  return image.toBuffer();
};

export const makeWebp = (width: number, height: number, options?: ImageOptions): Promise<Buffer> =>
  base(width, height, options).webp({ quality: 80 }).toBuffer();

/** A GIF; with `frames` > 1 an animated one whose frames differ in colour. */
export const makeGif = async (width: number, height: number, frames = 1): Promise<Buffer> => {
  if (frames <= 1) return base(width, height).gif().toBuffer();
  const pages = await Promise.all(
    Array.from({ length: frames }, (_, i) =>
      base(width, height, { background: { r: (i * 60) % 256, g: 100, b: 200 } })
        .raw()
        .toBuffer(),
    ),
  );
  return sharp(Buffer.concat(pages), {
    raw: { width, height: height * frames, channels: 3, pageHeight: height },
  })
    .gif({ loop: 0, delay: Array(frames).fill(100) })
    .toBuffer();
};

export const makeAvif = (width: number, height: number): Promise<Buffer> =>
  base(width, height).avif({ quality: 50 }).toBuffer();

export const makeTiff = (width: number, height: number): Promise<Buffer> =>
  base(width, height).tiff().toBuffer();

/** A minimal PDF: enough for magic-byte detection. */
export const PDF_BYTES = Buffer.from(
  '%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n',
  'latin1',
);

/** What Slack sends for `url_private_download` without a token. */
export const HTML_LOGIN_PAGE = Buffer.from(
  '<!DOCTYPE html>\n<html lang="en-US">\n<head><meta charset="utf-8"><title>Slack</title></head>\n<body><form action="/signin">Sign in to your workspace</form></body>\n</html>\n',
);

export interface Mp4Options {
  /** Default h264. */
  codec?: 'h264' | 'mpeg4' | 'hevc';
  /** Default yuv420p. */
  pixFmt?: string;
  /** Default 1. */
  seconds?: number;
  /** Default 320. */
  width?: number;
  /** Default 240. */
  height?: number;
  /** Default 24. */
  fps?: number;
  /** Move the moov atom to the front. Default false (ffmpeg's default layout: mdat first). */
  faststart?: boolean;
  /** Target bitrate such as '8M'; default: encoder quality defaults. */
  bitrate?: string;
  /** Add visual noise, so the encoder actually spends the bitrate (for large files). */
  noise?: boolean;
  /** Add a sine-tone audio track. */
  audio?: boolean;
}

const ENCODERS = { h264: 'libx264', mpeg4: 'mpeg4', hevc: 'libx265' } as const;

/** Runs ffmpeg (no shell) and rejects with its stderr on failure. */
export function runFfmpeg(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}: ${stderr.trim()}`)),
    );
  });
}

/** Writes a short synthetic mp4 (testsrc2 pattern) to `path`. */
export async function makeMp4(path: string, options: Mp4Options = {}): Promise<void> {
  const codec = options.codec ?? 'h264';
  const width = options.width ?? 320;
  const height = options.height ?? 240;
  const fps = options.fps ?? 24;
  const seconds = options.seconds ?? 1;
  const filters = options.noise ? ['-vf', 'noise=alls=60:allf=t+u'] : [];
  const args = [
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    ...(options.audio ? ['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`] : []),
    ...filters,
    '-c:v',
    ENCODERS[codec],
    '-pix_fmt',
    options.pixFmt ?? 'yuv420p',
    ...(codec === 'hevc' ? ['-x265-params', 'log-level=error'] : []),
    ...(codec === 'h264' || codec === 'hevc' ? ['-preset', 'ultrafast'] : []),
    ...(options.bitrate
      ? [
          '-b:v',
          options.bitrate,
          '-maxrate',
          options.bitrate,
          '-minrate',
          options.bitrate,
          '-bufsize',
          options.bitrate,
        ]
      : []),
    ...(options.audio ? ['-c:a', 'aac', '-shortest'] : []),
    ...(options.faststart ? ['-movflags', '+faststart'] : []),
    '-f',
    'mp4',
    path,
  ];
  await runFfmpeg(args);
}

/** A fresh temp directory and a cleanup for afterAll/afterEach. */
export async function tempDir(label = 'media'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `kinema-test-${label}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** True when ffmpeg and ffprobe run, so video tests can be skipped with a reason otherwise. */
export async function hasFfmpeg(): Promise<boolean> {
  const check = (binary: string) =>
    new Promise<boolean>((resolve) => {
      const child = spawn(binary, ['-version'], { stdio: 'ignore' });
      child.on('error', () => resolve(false));
      child.on('close', (code) => resolve(code === 0));
    });
  return (await check(ffmpegPath())) && (await check(ffprobePath()));
}

/** Quick H.264 yuv420p mp4 output options for test clips. */
export const QUICK_H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const QUICK_H264_MP4 = [...QUICK_H264, '-f', 'mp4'];

/**
 * Two clips cut from one testsrc2 stream (every frame differs), the continuation starting on the
 * original's last frame, as a continuation rendered from that frame does.
 */
export async function makeOverlappingClips(
  originalPath: string,
  continuationPath: string,
  options: {
    originalFrames: number;
    continuationFrames: number;
    width?: number;
    height?: number;
    fps?: number;
  },
): Promise<void> {
  const { originalFrames, continuationFrames, width = 320, height = 240, fps = 16 } = options;
  const cut = async (path: string, from: number, to: number) =>
    runFfmpeg([
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${width}x${height}:rate=${fps}`,
      '-vf',
      `trim=start_frame=${from}:end_frame=${to},setpts=PTS-STARTPTS`,
      ...QUICK_H264_MP4,
      path,
    ]);
  await cut(originalPath, 0, originalFrames);
  await cut(continuationPath, originalFrames - 1, originalFrames - 1 + continuationFrames);
}

/** A clip of solid colours, `framesEach` frames of each, in order. */
export async function makeColourMp4(
  path: string,
  colours: string[],
  options: { framesEach: number; fps?: number; size?: string },
): Promise<void> {
  const { framesEach, fps = 16, size = '64x48' } = options;
  const inputs = colours.flatMap((colour) => ['-f', 'lavfi', '-i', `color=c=${colour}:s=${size}:r=${fps}`]);
  const trims = colours.map((_, i) => `[${i}:v]trim=end_frame=${framesEach}[c${i}]`).join(';');
  const concat = `${colours.map((_, i) => `[c${i}]`).join('')}concat=n=${colours.length}:v=1:a=0[out]`;
  await runFfmpeg([
    ...inputs,
    '-filter_complex',
    `${trims};${concat}`,
    '-map',
    '[out]',
    ...QUICK_H264_MP4,
    path,
  ]);
}

export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

/** Frame `index` of a video, decoded by ffmpeg on its own (a reference, independent of the code under test). */
export async function decodeFrame(video: string, index: number, dir: string): Promise<RgbImage> {
  const png = join(dir, `frame-${index}-${Math.random().toString(36).slice(2)}.png`);
  await runFfmpeg(['-i', video, '-vf', `select=eq(n\\,${index})`, '-frames:v', '1', png]);
  return rgbOf(png);
}

/** An image file's pixels as RGB. */
export async function rgbOf(image: string | Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Mean absolute difference per channel value (0–255) of two same-sized images. */
export function meanDifference(a: RgbImage, b: RgbImage): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new Error(`sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
  let sum = 0;
  for (let i = 0; i < a.data.length; i += 1) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}
