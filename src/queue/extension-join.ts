import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UserFacingError } from '../core/errors.js';
import type { ExtensionOf } from '../core/job.js';
import { appendContinuation } from '../media/edit.js';
import type { BlobStore } from '../storage/blobs.js';

/** What the worker needs to know of the joined file (result-files.ts's PreparedVideo, without stills). */
export interface JoinedVideo {
  bytes: number;
  durationSeconds: number;
  width: number;
  height: number;
}

/**
 * The worker's part of an extension: once the continuation is rendered and prepared for chat, the
 * original (as it was posted, stored when the extension was asked for) is put in front of it,
 * without the continuation's first frame (the original's last one, which it was rendered from).
 * What is delivered lasts both minus one frame, at the original's size and frame rate.
 */
export async function joinExtension(
  results: BlobStore,
  extension: ExtensionOf,
  continuationPath: string,
  dir: string,
  signal: AbortSignal,
): Promise<{ path: string; prepared: JoinedVideo }> {
  const stored = await results.open(extension.originalKey);
  if (!stored) {
    throw new UserFacingError(
      'the stored copy of the video this extends has expired, so the extension cannot be joined to it; extend the video again',
    );
  }
  const original = join(dir, 'original.mp4');
  await pipeline(stored.stream, createWriteStream(original), { signal });
  const joined = join(dir, 'extended.mp4');
  const probe = await appendContinuation(original, continuationPath, joined);
  return {
    path: joined,
    prepared: {
      bytes: probe.bytes,
      durationSeconds: probe.durationSeconds,
      width: probe.width,
      height: probe.height,
    },
  };
}
