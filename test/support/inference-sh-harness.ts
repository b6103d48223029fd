import type { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterEach } from 'vitest';
import type { BackendEvent, BackendJob, BackendProgress } from '../../src/backends/backend.js';
import { DurationHistory } from '../../src/backends/durations.js';
import { InferenceBackend, type InferenceBackendOptions } from '../../src/backends/inference-sh/backend.js';
import type { RemoteTaskRef } from '../../src/core/job.js';
import type { GenerationRequest, StoredImage } from '../../src/core/request.js';
import { createLogger } from '../../src/log.js';
import { BlobStore } from '../../src/storage/blobs.js';
import { InputStore } from '../../src/storage/inputs.js';
import {
  type FakeInference,
  type FakeInferenceOptions,
  startFakeInference,
} from '../fakes/inference-sh/server.js';
import { cleanPrefix, testRedis, uniquePrefix } from './redis.js';

/**
 * Wiring for the inference.sh tests: the fake on loopback, the real backend over undici, and a real
 * Redis-backed InputStore and DurationHistory under a unique prefix. Tiny timeouts keep runs fast.
 */

export const FAST: Partial<InferenceBackendOptions> = {
  timeouts: { connectMs: 2_000, jsonMs: 5_000, streamSilenceMs: 150, downloadMs: 5_000 },
  retry: { attempts: 3, baseMs: 1, maxMs: 5, maxWaitMs: 5_000 },
  reconnect: { budget: 2, baseMs: 1, maxMs: 5 },
  pollIntervalMs: 5,
  maxPollErrors: 5,
  cancelWaitMs: 3_000,
  cancelPollMs: 5,
};

export interface Harness {
  fake: FakeInference;
  backend: InferenceBackend;
  redis: Redis;
  prefix: string;
  inputs: InputStore;
  durations: DurationHistory;
  image: StoredImage;
  png: Buffer;
  makeBackend(options?: Partial<InferenceBackendOptions>): InferenceBackend;
  job(request?: Partial<GenerationRequest>): BackendJob;
  close(): Promise<void>;
}

export async function makePng(color = '#3a7bd5'): Promise<Buffer> {
  return sharp({ create: { width: 8, height: 6, channels: 3, background: color } })
    .png()
    .toBuffer();
}

export interface HarnessOptions {
  fake?: FakeInferenceOptions;
  backend?: Partial<InferenceBackendOptions>;
}

/** A harness per test, closed after it: `const start = harnessPerTest();` at the top of a file. */
export function harnessPerTest(): (options?: HarnessOptions) => Promise<Harness> {
  let current: Harness | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return async (options) => {
    current = await startHarness(options);
    return current;
  };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const redis = testRedis();
  const prefix = uniquePrefix('infsh');
  const inputs = new InputStore(new BlobStore(redis, { prefix, ttlSeconds: 600 }));
  const durations = new DurationHistory(redis, prefix);
  const fake = await startFakeInference(options.fake);
  const png = await makePng();
  const image = await inputs.save({
    bytes: png,
    contentType: 'image/png',
    width: 8,
    height: 6,
    filename: 'cat.png',
  });
  const backends: InferenceBackend[] = [];
  const makeBackend = (extra: Partial<InferenceBackendOptions> = {}) => {
    const backend = new InferenceBackend({
      apiUrl: fake.apiUrl,
      apiKey: fake.apiKey,
      durations,
      outputHosts: [fake.storageHost],
      ...FAST,
      ...options.backend,
      ...extra,
    });
    backends.push(backend);
    return backend;
  };
  const backend = makeBackend();
  let counter = 0;
  return {
    fake,
    backend,
    redis,
    prefix,
    inputs,
    durations,
    image,
    png,
    makeBackend,
    job: (request = {}) => ({
      jobId: `job-${++counter}`,
      inputs,
      log: createLogger('silent'),
      request: {
        prompt: 'the cat turns its head and blinks slowly',
        model: 'wan2.2-a14b',
        seed: 184467,
        input_image: image,
        ...request,
      },
    }),
    close: async () => {
      await Promise.all(backends.map((b) => b.close()));
      await fake.close();
      await cleanPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

export interface SubmitRecord {
  ref: RemoteTaskRef;
  persisted: RemoteTaskRef[];
  progress: BackendProgress[];
}

export async function submit(
  backend: InferenceBackend,
  job: BackendJob,
  signal: AbortSignal = new AbortController().signal,
): Promise<SubmitRecord & { persisted: RemoteTaskRef[] }> {
  const persisted: RemoteTaskRef[] = [];
  const progress: BackendProgress[] = [];
  const ref = await backend.submit(
    job,
    {
      persist: async (r) => {
        persisted.push({ ...r });
      },
      progress: (p) => progress.push(p),
    },
    signal,
  );
  return { ref, persisted, progress };
}

/** Submits and follows, recording hooks; rejects with whatever the backend throws. */
export async function submitCatching(backend: InferenceBackend, job: BackendJob) {
  const persisted: RemoteTaskRef[] = [];
  const error = await backend
    .submit(
      job,
      { persist: async (r) => void persisted.push({ ...r }), progress: () => {} },
      new AbortController().signal,
    )
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  return { error, persisted };
}

export async function collect(
  backend: InferenceBackend,
  ref: RemoteTaskRef,
  job: BackendJob,
  signal: AbortSignal = new AbortController().signal,
): Promise<BackendEvent[]> {
  const events: BackendEvent[] = [];
  for await (const event of backend.follow(ref, job, signal)) events.push(event);
  return events;
}

export async function followCatching(backend: InferenceBackend, ref: RemoteTaskRef, job: BackendJob) {
  const events: BackendEvent[] = [];
  try {
    for await (const event of backend.follow(ref, job, new AbortController().signal)) events.push(event);
    return { events, error: undefined as unknown };
  } catch (error) {
    return { events, error };
  }
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Buffer));
  return Buffer.concat(parts);
}

/** Submit, follow and download: the whole path a worker takes. */
export async function runToVideo(h: Harness, request: Partial<GenerationRequest> = {}, backend = h.backend) {
  const job = h.job(request);
  const submitted = await submit(backend, job);
  const events = await collect(backend, submitted.ref, job);
  const last = events.at(-1);
  if (last?.type !== 'completed') throw new Error(`no completed event: ${JSON.stringify(events)}`);
  const video = await backend.download(last.output, new AbortController().signal);
  const bytes = await readAll(video.stream);
  return { job, ...submitted, events, output: last.output, video, bytes };
}

/** Waits until a predicate holds, polling; for steps of the fake that happen on their own timers. */
export async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
