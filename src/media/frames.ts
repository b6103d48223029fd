import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ffmpeg, InvalidVideoError, inputAndOutput, removeQuietly, type VideoToolOptions } from './ffmpeg.js';
import { countFrames, probeVideo } from './probe.js';

/** Stills from a video: a poster, the exact last frame, and small samples for a classifier. */

/** Frames decoded when looking for the last one: from the keyframe before this much of the end. */
const TAIL_SECONDS = 1;

async function nonEmpty(path: string): Promise<boolean> {
  return ((await stat(path).catch(() => undefined))?.size ?? 0) > 0;
}

/**
 * Writes a JPEG still of the video: the first frame by default, or the middle one; at most
 * `maxWidth` pixels wide when given. Useful as a poster when the video is posted as a link.
 */
export async function posterFrame(
  inputPath: string,
  outputPath: string,
  options: VideoToolOptions & { at?: 'first' | 'middle'; maxWidth?: number } = {},
): Promise<void> {
  const [input, outputJpeg] = inputAndOutput(inputPath, outputPath);
  let seek: string[] = [];
  if (options.at === 'middle') {
    const probe = await probeVideo(input, options);
    if (probe.durationSeconds > 0) seek = ['-ss', (probe.durationSeconds / 2).toFixed(3)];
  }
  const shrink = options.maxWidth ? `scale='min(iw,${options.maxWidth})':-2,` : '';
  try {
    await ffmpeg(
      [
        ...seek,
        '-i',
        input,
        '-map',
        '0:v:0',
        '-frames:v',
        '1',
        '-vf',
        `${shrink}format=yuvj420p`,
        '-c:v',
        'mjpeg',
        '-q:v',
        '3',
        '-f',
        'image2',
        '-update',
        '1',
        outputJpeg,
      ],
      'extract a poster frame',
      options,
    );
    if (!(await nonEmpty(outputJpeg)))
      throw new InvalidVideoError('no frame could be extracted from the video');
  } catch (error) {
    await removeQuietly(outputJpeg);
    throw error;
  }
}

/**
 * Writes the last decoded frame of the video as a PNG at full resolution (the start image of a
 * continuation). Only the end is decoded: from the keyframe before the last second, each frame
 * overwriting the file, so what remains is exactly the last one. When that finds nothing (an
 * audio track longer than the video moves the end), the frame is picked by its number instead.
 */
export async function lastFrame(
  inputPath: string,
  outputPath: string,
  options: VideoToolOptions = {},
): Promise<void> {
  const [input, outputPng] = inputAndOutput(inputPath, outputPath);
  const png = ['-map', '0:v:0', '-an', '-c:v', 'png', '-f', 'image2', '-update', '1', outputPng];
  // An earlier file there would pass for a found frame.
  await removeQuietly(outputPng);
  try {
    // Reversed, the tail's last frame comes out first: one PNG encoded instead of one per frame of
    // the tail (seconds for a noisy 480p second). The tail is all `reverse` holds in memory.
    await ffmpeg(
      ['-sseof', `-${TAIL_SECONDS}`, '-i', input, '-vf', 'reverse', '-frames:v', '1', ...png],
      'extract the last frame',
      options,
    );
    if (await nonEmpty(outputPng)) return;
    const frames = await countFrames(input, options);
    await ffmpeg(
      ['-i', input, '-vf', `select=eq(n\\,${frames - 1})`, '-frames:v', '1', ...png],
      'extract the last frame',
      options,
    );
    if (!(await nonEmpty(outputPng)))
      throw new InvalidVideoError('no frame could be extracted from the video');
  } catch (error) {
    await removeQuietly(outputPng);
    throw error;
  }
}

/** Where in the video: its first, middle or last frame, or a fraction of the way through (0–1). */
export type FramePosition = 'first' | 'middle' | 'last' | number;

export interface SampledFrame {
  position: FramePosition;
  /** Frame number in the video (0-based). */
  index: number;
  width: number;
  height: number;
  /** Raw pixels, 3 bytes (R, G, B) each, row by row: ready for an image classifier's input tensor. */
  rgb: Buffer;
}

export interface SampleFramesOptions extends VideoToolOptions {
  /** Each frame is scaled to size × size, ignoring its aspect ratio, as classifiers expect. Default 224. */
  size?: number;
}

/**
 * Small frames from the video for a classifier (e.g. an NSFW model that takes 224×224): by default
 * the first, middle and last frames; or `count` evenly spaced ones (first and last included); or
 * the given positions. One ffmpeg pass decodes the video once and keeps only those frames.
 */
export async function sampleFrames(
  inputPath: string,
  which: number | FramePosition[] = ['first', 'middle', 'last'],
  options: SampleFramesOptions = {},
): Promise<SampledFrame[]> {
  const input = resolve(inputPath);
  const size = options.size ?? 224;
  const total = await countFrames(input, options);
  const positions: FramePosition[] =
    typeof which === 'number'
      ? Array.from({ length: which }, (_, i) => (which === 1 ? 0 : i / (which - 1)))
      : which;
  const indexOf = (position: FramePosition) => {
    if (position === 'first') return 0;
    if (position === 'last') return total - 1;
    const fraction = position === 'middle' ? 0.5 : Math.min(1, Math.max(0, position));
    return Math.round(fraction * (total - 1));
  };
  const indexes = positions.map(indexOf);
  const unique = [...new Set(indexes)].sort((a, b) => a - b);
  const frameBytes = size * size * 3;
  const parts: Buffer[] = [];
  await ffmpeg(
    [
      '-i',
      input,
      '-map',
      '0:v:0',
      '-vf',
      `select=${unique.map((index) => `eq(n\\,${index})`).join('+')},scale=${size}:${size}`,
      // One output frame per selected frame: no duplicates to keep a constant rate.
      '-vsync',
      'passthrough',
      '-pix_fmt',
      'rgb24',
      '-f',
      'rawvideo',
      'pipe:1',
    ],
    'sample frames',
    { ...options, onStdout: (chunk) => parts.push(chunk) },
  );
  const raw = Buffer.concat(parts);
  if (raw.length !== unique.length * frameBytes) {
    throw new InvalidVideoError(
      `expected ${unique.length} frames from the video, got ${raw.length / frameBytes}`,
    );
  }
  return positions.map((position, i) => {
    const slot = unique.indexOf(indexes[i]!);
    return {
      position,
      index: indexes[i]!,
      width: size,
      height: size,
      rgb: raw.subarray(slot * frameBytes, (slot + 1) * frameBytes),
    };
  });
}
