import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ExtensionOf } from '../core/job.js';
import { lastFrame } from '../media/frames.js';
import { type ValidatedImage, validateImage } from '../media/image.js';
import { probeVideo } from '../media/probe.js';
import type { BlobStore } from '../storage/blobs.js';

/**
 * `--extend <video.mp4>`: the local video's last frame (full resolution) is the start image, and
 * the worker writes the video followed by the continuation, as Extend does in the chats.
 */

/** The last frame of a local video, as an input image; throws a message for the person. */
export async function lastFrameOf(path: string, maxBytes: number): Promise<ValidatedImage> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new Error(`--extend: no file at ${path}`);
  try {
    await probeVideo(path);
  } catch (error) {
    throw new Error(`--extend: ${path} is not a video ffmpeg can read (${(error as Error).message})`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'kinema-cli-extend-'));
  try {
    const png = join(dir, 'last-frame.png');
    await lastFrame(path, png);
    const bytes = await readFile(png);
    const name = `${basename(path).replace(/\.[^.]*$/, '')}-last-frame.png`;
    return await validateImage(bytes, { filename: name, maxBytes: Math.max(maxBytes, bytes.length) });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Stores the local video for the worker to join the continuation to. */
export async function storeOriginal(blobs: BlobStore, path: string): Promise<ExtensionOf> {
  const originalKey = `extend-cli-${randomUUID()}`;
  await blobs.putStream(originalKey, createReadStream(path), 'video/mp4');
  return { originalKey, depth: 1 };
}
