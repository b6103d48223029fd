import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BackendOutput, VideoBackend } from '../backends/backend.js';
import type { GenerationJobData, VideoResult } from '../core/job.js';
import type { Logger } from '../log.js';
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
  /**
   * Makes the stills of the prepared file (a JPEG poster, the last frame as PNG), kept for
   * STORAGE_TTL_DAYS. The worker calls it once the video is on its way to the chat.
   */
  makeStills?: () => Promise<{ poster?: string; lastFrame?: string }>;
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

export type StillKeys = Pick<VideoResult, 'posterKey' | 'lastFrameKey'>;

/**
 * A stored video's stills, announced (readers of their keys wait for them) but not made yet: the
 * worker posts the video first. `store` makes and stores them; either way `discard` removes the
 * job's files.
 */
export interface PendingStills {
  /** Never throws: the video is already posted, so a still that cannot be made is only logged. */
  store(log: Logger): Promise<StillKeys>;
  discard(): Promise<void>;
}

export type StoredResult =
  | { prepared: PreparedVideo; stillKeys: StillKeys; stills: PendingStills }
  /** The policy would not let it be posted: nothing was stored; `withheld` is for the requester. */
  | { withheld: string };

/**
 * How long readers wait for announced stills. Making them takes well under a second (two ffmpeg
 * runs on the end and the start of the video); a worker that dies meanwhile leaves the job to
 * another, which makes them again.
 */
const STILLS_WITHIN_SECONDS = 30;

/**
 * A finished job's files: streams the backend's video to disk, prepares it for chat, lets the
 * policy look at it (moderation), and stores it until it is delivered. Its poster and last frame
 * (what reruns and extensions need, kept for STORAGE_TTL_DAYS) are announced under the keys
 * returned and made by `stills.store`. A withheld video is never stored.
 */
export async function storeResult(
  deps: ResultFilesDeps,
  job: { jobId: string; data: GenerationJobData },
  output: BackendOutput,
  signal: AbortSignal,
): Promise<StoredResult> {
  const { jobId } = job;
  const dir = await mkdtemp(join(deps.tmpDir, 'kinema-'));
  const discard = () => removeScratchDir(dir);
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
    if (withhold) {
      await discard();
      return { withheld: withhold };
    }
    const { results } = deps;
    await results.putStream(`result-${jobId}`, createReadStream(delivered), 'video/mp4', {
      lifetime: 'result',
    });
    const { makeStills } = prepared;
    const stillKeys: StillKeys = makeStills
      ? { posterKey: `poster-${jobId}`, lastFrameKey: `last-frame-${jobId}` }
      : {};
    const keys = Object.values(stillKeys).filter((key) => key !== undefined);
    await results.expect(keys, STILLS_WITHIN_SECONDS);
    const store = async (log: Logger): Promise<StillKeys> => {
      const stored: StillKeys = {};
      try {
        const made = await makeStills?.();
        if (made?.poster) {
          await results.putStream(stillKeys.posterKey!, createReadStream(made.poster), 'image/jpeg');
          stored.posterKey = stillKeys.posterKey;
        }
        if (made?.lastFrame) {
          await results.putStream(stillKeys.lastFrameKey!, createReadStream(made.lastFrame), 'image/png');
          stored.lastFrameKey = stillKeys.lastFrameKey;
        }
      } catch (error) {
        log.warn({ err: error }, 'could not store the poster and last frame of a posted video');
      }
      // What did not come will not: its readers stop waiting.
      const missing = keys.filter((key) => !Object.values(stored).includes(key));
      await results.unexpect(missing).catch(() => undefined);
      return stored;
    };
    return { prepared, stillKeys, stills: { store, discard } };
  } catch (error) {
    await discard();
    throw error;
  }
}
