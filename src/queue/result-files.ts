import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BackendOutput, VideoBackend } from '../backends/backend.js';
import type { GenerationJobData, VideoResult } from '../core/job.js';
import type { BlobStore } from '../storage/blobs.js';
import { removeScratchDir } from './temp-dir.js';
import type { WorkerPolicy } from './worker-policy.js';

/** What the worker needs to know of a finished file; `media/video.ts` provides the real one. */
export interface PreparedVideo {
  bytes: number;
  durationSeconds?: number;
  width?: number;
  height?: number;
  /** Stills the preparer wrote (a JPEG poster, the last frame as PNG); kept for STORAGE_TTL_DAYS. */
  stills?: { poster?: string; lastFrame?: string };
}
export type VideoPreparer = (inputPath: string, outputPath: string) => Promise<PreparedVideo>;

export interface ResultFilesDeps {
  backend: VideoBackend;
  results: BlobStore;
  prepareVideo: VideoPreparer;
  policy?: WorkerPolicy;
  tmpDir: string;
}

export type StoredResult =
  | { prepared: PreparedVideo; stillKeys: Pick<VideoResult, 'posterKey' | 'lastFrameKey'> }
  /** The policy would not let it be posted: nothing was stored; `withheld` is for the requester. */
  | { withheld: string };

/**
 * A finished job's files: streams the backend's video to disk, prepares it for chat, lets the
 * policy look at it (moderation), and stores it: the video until it is delivered, its poster and
 * last frame (what reruns and extensions need) for STORAGE_TTL_DAYS. A withheld video is never stored.
 */
export async function storeResult(
  deps: ResultFilesDeps,
  job: { jobId: string; data: GenerationJobData },
  output: BackendOutput,
  signal: AbortSignal,
): Promise<StoredResult> {
  const { jobId } = job;
  const dir = await mkdtemp(join(deps.tmpDir, 'kinema-'));
  try {
    const raw = join(dir, 'raw.mp4');
    const ready = join(dir, 'ready.mp4');
    const download = await deps.backend.download(output, signal);
    await pipeline(download.stream, createWriteStream(raw), { signal });
    const prepared = await deps.prepareVideo(raw, ready);
    const withhold = (await deps.policy?.inspect(jobId, job.data, ready))?.withhold;
    if (withhold) return { withheld: withhold };
    const { results } = deps;
    await results.putStream(`result-${jobId}`, createReadStream(ready), 'video/mp4', {
      lifetime: 'result',
    });
    const stillKeys: Pick<VideoResult, 'posterKey' | 'lastFrameKey'> = {};
    const { poster, lastFrame } = prepared.stills ?? {};
    if (poster) {
      stillKeys.posterKey = `poster-${jobId}`;
      await results.putStream(stillKeys.posterKey, createReadStream(poster), 'image/jpeg');
    }
    if (lastFrame) {
      stillKeys.lastFrameKey = `last-frame-${jobId}`;
      await results.putStream(stillKeys.lastFrameKey, createReadStream(lastFrame), 'image/png');
    }
    return { prepared, stillKeys };
  } finally {
    await removeScratchDir(dir);
  }
}
