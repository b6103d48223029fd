import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import sharp from 'sharp';
import type { BackendEvent, BackendJob, BackendProgress, SubmitHooks } from '../../src/backends/backend.js';
import type { ComfyBackendOptions } from '../../src/backends/comfyui/options.js';
import type { RemoteTaskRef } from '../../src/core/job.js';
import type { GenerationRequest, StoredImage } from '../../src/core/request.js';
import { createLogger } from '../../src/log.js';
import { BlobStore } from '../../src/storage/blobs.js';
import { InputStore } from '../../src/storage/inputs.js';
import { cleanPrefix, testRedis, uniquePrefix } from './redis.js';

/** Shared pieces for the ComfyUI backend tests: real Redis-backed inputs, tiny timings, collectors. */

export const silentLog = createLogger('silent');

/** Timings small enough for tests; nothing here is asserted on. */
export function fastOptions(
  servers: ComfyBackendOptions['servers'],
  extra: Partial<ComfyBackendOptions> = {},
) {
  return {
    servers,
    clientId: `kinema-test-${randomUUID().slice(0, 8)}`,
    preflightIntervalMs: 60_000,
    historyPollMs: 300,
    historyPollDownMs: 40,
    queuePollMs: 30,
    confirmPollMs: 15,
    reconnectMinMs: 20,
    reconnectMaxMs: 80,
    requestTimeoutMs: 3_000,
    serverDownTimeoutMs: 15_000,
    cancelTimeoutMs: 5_000,
    log: silentLog,
    ...extra,
  } satisfies ComfyBackendOptions;
}

export async function makeInputs() {
  const redis = testRedis();
  const prefix = uniquePrefix('comfyui');
  const blobs = new BlobStore(redis, { prefix, ttlSeconds: 600 });
  const inputs = new InputStore(blobs);
  return {
    redis,
    prefix,
    inputs,
    async cleanup() {
      await cleanPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

export async function storePng(inputs: InputStore, width: number, height: number): Promise<StoredImage> {
  const bytes = await sharp({
    create: { width, height, channels: 3, background: { r: 180, g: 60, b: 40 } },
  })
    .png()
    .toBuffer();
  return inputs.save({ bytes, contentType: 'image/png', width, height, filename: 'start.png' });
}

export function makeRequest(
  image: StoredImage,
  settings: Partial<GenerationRequest> = {},
): GenerationRequest {
  return {
    prompt: 'the cat turns its head and blinks slowly',
    model: 'wan2.1',
    seed: 184467,
    num_inference_steps: 6,
    num_frames: 33,
    input_image: image,
    ...settings,
  };
}

export function makeJob(request: GenerationRequest, inputs: InputStore): BackendJob {
  return { jobId: `job-${randomUUID().slice(0, 8)}`, request, inputs, log: silentLog };
}

export interface RecordingHooks extends SubmitHooks {
  persisted: RemoteTaskRef[];
  progressed: BackendProgress[];
}

export function recordingHooks(onPersist?: (ref: RemoteTaskRef) => void): RecordingHooks {
  const persisted: RemoteTaskRef[] = [];
  const progressed: BackendProgress[] = [];
  return {
    persisted,
    progressed,
    async persist(ref) {
      onPersist?.(ref);
      persisted.push({ ...ref });
    },
    progress(progress) {
      progressed.push(progress);
    },
  };
}

/** Runs a follow to its end; returns the events, or the error it ended with. */
export async function collect(
  events: AsyncIterable<BackendEvent>,
  onEvent?: (event: BackendEvent) => void,
): Promise<{ events: BackendEvent[]; error?: unknown }> {
  const seen: BackendEvent[] = [];
  try {
    for await (const event of events) {
      seen.push(event);
      onEvent?.(event);
    }
    return { events: seen };
  } catch (error) {
    return { events: seen, error };
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(parts);
}

export async function waitUntil(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const progressEvents = (events: BackendEvent[]) =>
  events.flatMap((event) => (event.type === 'progress' ? [event.progress] : []));
