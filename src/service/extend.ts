import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UserFacingError } from '../core/errors.js';
import type { ExtensionOf } from '../core/job.js';
import { finaliseRequest, type GenerationSettings, type StoredImage } from '../core/request.js';
import { remixSettings } from '../core/result-details.js';
import { openBounded } from '../media/fetch.js';
import { lastFrame } from '../media/frames.js';
import { validateImage } from '../media/image.js';
import { probeVideo } from '../media/probe.js';
import type { JobRecord } from '../queue/records.js';
import type { BlobStore } from '../storage/blobs.js';
import type { InputStore } from '../storage/inputs.js';
import type { DeriveHooks, MakeRequest } from './derived-jobs.js';

/**
 * Extend: a new job whose start image is a result's last frame, delivered as that result followed
 * by the continuation (the worker joins them, queue/extension-join.ts). Delivered videos leave
 * Redis (issue 10), so the original is fetched back from the chat post when the extension is asked
 * for, bounded in size and time and only from the platform's own hosts, and stored like an input
 * image (STORAGE_TTL_DAYS). A result still in storage (a bucket, a public link) is used as it is.
 */

/** The posted video as its platform reaches it: a URL on its own hosts, or one learned only later. */
export type VideoSource =
  | {
      url: string;
      /** Hosts the download (and its redirects) may reach: the platform's CDN or file hosts. */
      allowedHosts: readonly string[];
      /** Sent to the first host only, e.g. Slack's bot token. */
      headers?: Record<string, string>;
    }
  /** Resolved only once the request passed its checks (Slack's files.info). */
  | { resolve: () => Promise<VideoSource> };

export const DEFAULT_MAX_EXTENSIONS = 4;
const MiB = 1024 * 1024;
/** Chat uploads are far smaller (Discord: 10-500 MiB, a Wan clip: a few MiB); a bound, not a target. */
export const MAX_ORIGINAL_BYTES = 200 * MiB;
const FETCH_TIMEOUT_MS = 60_000;

/** Names of what the worker stored of a job (queue/result-files.ts). */
const storedResult = (jobId: string) => `result-${jobId}`;
const storedLastFrame = (jobId: string) => `last-frame-${jobId}`;

/** How far down its chain an extension of `parent` would be. */
export const depthAfter = (parent: Pick<JobRecord, 'extension'>): number =>
  (parent.extension?.depth ?? 0) + 1;

/** Why `parent` cannot be extended once more (MAX_EXTENSIONS), or nothing. */
export function chainRefusal(
  parent: Pick<JobRecord, 'extension'>,
  maxExtensions = DEFAULT_MAX_EXTENSIONS,
): string | undefined {
  if (maxExtensions <= 0) return 'extending videos is turned off on this bot';
  if (depthAfter(parent) <= maxExtensions) return undefined;
  return `this video has already been extended ${maxExtensions} time${maxExtensions === 1 ? '' : 's'}, the most one chain may be (MAX_EXTENSIONS); start a new /animate to go on`;
}

export interface ExtensionInputs {
  input_image: StoredImage;
  extension: ExtensionOf;
}

/** Fetches, checks and stores what an extension starts from: the posted video and its last frame. */
export class ExtensionFiles {
  constructor(
    private readonly results: BlobStore,
    private readonly inputs: InputStore,
    private readonly maxInputBytes: number,
  ) {}

  /**
   * The original as `extend-<jobId>` (kept STORAGE_TTL_DAYS) and the start image: the parent's
   * stored last frame at full resolution, or, once that has expired, the posted video's last frame.
   */
  async prepare(jobId: string, parentJobId: string, parent: JobRecord, source: VideoSource) {
    const dir = await mkdtemp(join(tmpdir(), 'kinema-extend-'));
    try {
      const original = join(dir, 'original.mp4');
      await this.fetchOriginal(parentJobId, source, original);
      try {
        await probeVideo(original);
      } catch (error) {
        throw new UserFacingError(
          'the posted video could not be read back from the chat, so it cannot be extended; extend it again in a minute, or start a new /animate',
          { cause: error },
        );
      }
      const originalKey = `extend-${jobId}`;
      await this.results.putStream(originalKey, createReadStream(original), 'video/mp4');
      let frame = await this.results.read(storedLastFrame(parentJobId));
      if (!frame) {
        const png = join(dir, 'last-frame.png');
        await lastFrame(original, png);
        frame = await readFile(png);
      }
      const image = await validateImage(frame, {
        filename: `last-frame-${parentJobId}.png`.slice(0, 200),
        maxBytes: Math.max(this.maxInputBytes, frame.length),
      });
      const input_image = await this.inputs.save(image);
      return { input_image, extension: { originalKey, depth: depthAfter(parent) } } satisfies ExtensionInputs;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The result still in storage when it is (a bucket, a public link), else the chat post's copy. */
  private async fetchOriginal(parentJobId: string, source: VideoSource, path: string): Promise<void> {
    const stored = await this.results.open(storedResult(parentJobId));
    if (stored) {
      await pipeline(stored.stream, createWriteStream(path));
      return;
    }
    let resolved = source;
    while ('resolve' in resolved) resolved = await resolved.resolve();
    const opened = await openBounded(resolved.url, {
      allowedHosts: resolved.allowedHosts,
      maxBytes: MAX_ORIGINAL_BYTES,
      timeoutMs: FETCH_TIMEOUT_MS,
      ...(resolved.headers ? { headers: resolved.headers } : {}),
      label: 'the posted video',
    });
    try {
      await pipeline(opened.stream, createWriteStream(path));
    } catch (error) {
      throw opened.failure(error);
    }
  }

  /** Whether a stored original (of an extension being rerun or remixed) is still there. */
  async originalExists(extension: ExtensionOf): Promise<boolean> {
    return (await this.results.meta(extension.originalKey)) !== undefined;
  }

  /** Takes back a stored original whose job was refused after all. */
  async discard(extension: ExtensionOf): Promise<void> {
    await this.results.delete(extension.originalKey).catch(() => undefined);
  }
}

/**
 * How the shared derived-job path (derived-jobs.ts) makes an extension: the parent's settings with
 * the edits on top and no end frame; refused past MAX_EXTENSIONS before any lock; its start image
 * and the original made under the person's lock, once every check passed, and taken back if the
 * job is refused after all.
 */
export function extensionSteps(
  files: ExtensionFiles,
  maxExtensions: number | undefined,
  parentJobId: string,
  input: { jobId: string; settings: GenerationSettings; original: VideoSource },
): { make: MakeRequest; hooks: DeriveHooks } {
  const make: MakeRequest = (parent) => {
    const edited = remixSettings(parent, input.settings);
    // A continuation ends where it likes: the parent's end frame (or its loop) would pull it back.
    const { end_frame: _end, loop: _loop, ...request } = finaliseRequest(edited, parent, parent.model);
    return request;
  };
  const hooks: DeriveHooks = {
    refuse: (parent) => chainRefusal(parent, maxExtensions),
    prepare: async (job, parent) => {
      const made = await files.prepare(input.jobId, parentJobId, parent, input.original);
      return {
        ...job,
        request: { ...job.request, input_image: made.input_image },
        extension: made.extension,
      };
    },
    discard: async (job) => {
      if (job.extension) await files.discard(job.extension);
    },
  };
  return { make, hooks };
}
