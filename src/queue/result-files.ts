import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BackendOutput, VideoBackend } from '../backends/backend.js';
import type { GenerationJobData, VideoResult } from '../core/job.js';
import type { BlobStore } from '../storage/blobs.js';
import { joinExtension } from './extension-join.js';
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
/** `loop`: the clip ends on a repeat of its first frame, which the preparer drops (media/chat-video.ts). */
export type VideoPreparer = (
  inputPath: string,
  outputPath: string,
  how?: { loop?: boolean },
) => Promise<PreparedVideo>;

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
    let prepared = await deps.prepareVideo(raw, ready, job.data.request.loop ? { loop: true } : {});
    // An extension is delivered as the original followed by this video (extension-join.ts).
    let delivered = ready;
    const { extension } = job.data;
    if (extension) {
      const joined = await joinExtension(deps.results, extension, ready, dir, signal);
      delivered = joined.path;
      prepared = { ...prepared, ...joined.prepared };
    }
    const withhold = (await deps.policy?.inspect(jobId, job.data, delivered))?.withhold;
    if (withhold) return { withheld: withhold };
    const { results } = deps;
    await results.putStream(`result-${jobId}`, createReadStream(delivered), 'video/mp4', {
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
