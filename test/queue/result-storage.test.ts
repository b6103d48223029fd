import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryJobData, GenerationJobData, VideoResult } from '../../src/core/job.js';
import { finaliseRequest } from '../../src/core/request.js';
import { createLogger } from '../../src/log.js';
import { countFrames, prepareForDelivery } from '../../src/media/video.js';
import { Pipeline } from '../../src/pipeline.js';
import { DeliveryWorker } from '../../src/queue/delivery.js';
import type { GenerationWorker } from '../../src/queue/generation-worker.js';
import type { VideoPreparer } from '../../src/queue/result-files.js';
import { PublicLinks } from '../../src/service/public-links.js';
import { decodeFrame, makeMp4, meanDifference, rgbOf, tempDir } from '../support/media.js';
import { waitFor } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';
import { startLocalS3 } from '../support/s3.js';
import { ScriptedBackend } from '../support/scripted-backend.js';
import { type ScriptedService, startScriptedService } from '../support/scripted-service.js';

/**
 * Where a result lives from the worker to the chat: the worker stores the video (until delivered)
 * with its poster and last frame (for STORAGE_TTL_DAYS); the bot's delivery deletes the video once
 * posted, unless a public link keeps it; with a bucket, the video stays for retention.
 */

const DELIVER = 'deliver-storage-test';
const STORAGE_TTL = 30 * 86_400;
const RESULT_TTL = 2 * 3_600;
const LINK_TTL = 7 * 86_400;
const FAST = { lockDurationMs: 1_500, stalledIntervalMs: 1_000, progressIntervalMs: 0 };

const redis = testRedis();
let dir: string;
let cleanupDir: () => Promise<void>;
let service: ScriptedService;

beforeAll(async () => {
  ({ dir, cleanup: cleanupDir } = await tempDir('result-storage'));
  await makeMp4(join(dir, 'render.mp4'), { width: 832, height: 480, fps: 16, seconds: 1 });
  service = await startScriptedService({
    video: await readFile(join(dir, 'render.mp4')),
    steps: 2,
    stepMs: 10,
  });
});

afterAll(async () => {
  await service.close();
  await cleanupDir();
  await redis.quit();
});

type Behaviour = (delivery: DeliveryJobData, links: PublicLinks) => Promise<void>;

/** While set, the worker's stills wait for it: a test holds them back to read their keys before they exist. */
let stillsHeldBy: Promise<void> | undefined;
/** While set, making the stills fails with it. */
let stillsFailWith: Error | undefined;
const preparer: VideoPreparer = async (input, output) => {
  const prepared = await prepareForDelivery(input, output);
  return {
    ...prepared,
    makeStills: async () => {
      await stillsHeldBy;
      if (stillsFailWith) throw stillsFailWith;
      return prepared.makeStills();
    },
  };
};

/** A pipeline, a worker and the bot's DeliveryWorker; the handler does what the job's prompt names. */
async function harness(label: string, objectStorage?: Awaited<ReturnType<typeof startLocalS3>>) {
  const prefix = uniquePrefix(label);
  const pipeline = new Pipeline({
    redisUrl: TEST_REDIS_URL,
    prefix,
    log: createLogger('silent'),
    storageTtlSeconds: STORAGE_TTL,
    resultTtlSeconds: RESULT_TTL,
    objectStorage: objectStorage && 'settings' in objectStorage ? objectStorage.settings : undefined,
  });
  const links = new PublicLinks(pipeline.connection, prefix, pipeline.blobs, 'http://videos.test', LINK_TTL);
  const behaviours = new Map<string, Behaviour>();
  const handled: Array<{ delivery: DeliveryJobData; failed: boolean }> = [];
  const deliveryConnection = redis.duplicate();
  const deliveries = new DeliveryWorker(
    deliveryConnection,
    prefix,
    DELIVER,
    async (delivery) => {
      try {
        await behaviours.get(delivery.request.prompt)?.(delivery, links);
        handled.push({ delivery, failed: false });
      } catch (error) {
        handled.push({ delivery, failed: true });
        throw error;
      }
    },
    createLogger('silent'),
  );
  const worker: GenerationWorker = await pipeline.startWorker(
    new ScriptedBackend(service.url),
    preparer,
    FAST,
  );

  async function run(prompt: string, behaviour: Behaviour = async () => {}) {
    behaviours.set(prompt, behaviour);
    const image = await pipeline.inputs.save({
      bytes: Buffer.from('png bytes'),
      contentType: 'image/png',
      width: 64,
      height: 64,
      filename: 'cat.png',
    });
    const jobId = `t-${randomUUID().slice(0, 8)}`;
    const data: GenerationJobData = {
      request: finaliseRequest({ prompt }, { input_image: image }, 'wan2.1'),
      requester: { platform: 'test', userId: 'u1' },
      reportTo: { platform: 'test' },
      deliverVia: DELIVER,
      createdAt: Date.now(),
      notes: [],
    };
    await pipeline.queue.enqueue(jobId, data);
    const done = await waitFor(
      () => handled.find((entry) => entry.delivery.jobId === jobId && !entry.failed),
      `delivery of ${jobId}`,
      40_000,
    );
    if (done.delivery.outcome.kind !== 'succeeded') throw new Error(`job ${jobId} did not succeed`);
    return { jobId, result: done.delivery.outcome.result, image };
  }

  const metaTtl = (key: string) => redis.ttl(`${prefix}:blob:${key}:meta`);
  /** The stored file's record as it is this moment (no waiting for an announced one). */
  const rawMeta = (key: string) => redis.get(`${prefix}:blob:${key}:meta`);
  const rawComing = (key: string) => redis.exists(`${prefix}:blob:${key}:coming`);

  async function close() {
    await deliveries.close();
    await worker.close();
    await pipeline.close();
    await deliveryConnection.quit();
    await cleanPrefix(redis, prefix);
  }

  return { pipeline, links, handled, run, metaTtl, rawMeta, rawComing, close };
}

describe('result storage in Redis', () => {
  let h: Awaited<ReturnType<typeof harness>>;
  beforeAll(async () => {
    h = await harness('results');
  });
  afterAll(async () => {
    await h.close();
  });

  it('stores the video until it is delivered, and a poster and the exact last frame for STORAGE_TTL_DAYS', async () => {
    let ttlWhileDelivering = 0;
    const delivered = join(dir, 'delivered.mp4');
    const { result, image } = await h.run('plain', async (delivery) => {
      const { videoKey } = (delivery.outcome as { result: VideoResult }).result;
      ttlWhileDelivering = await h.metaTtl(videoKey);
      await writeFile(delivered, (await h.pipeline.blobs.read(videoKey))!);
    });
    expect(ttlWhileDelivering).toBeGreaterThan(RESULT_TTL - 60);
    expect(ttlWhileDelivering).toBeLessThanOrEqual(RESULT_TTL);
    expect(result).toMatchObject({ posterKey: expect.any(String), lastFrameKey: expect.any(String) });

    // Posted: the video leaves Redis; what later features need stays (made after the post: a
    // reader of their keys waits for them).
    await waitFor(async () => !(await h.pipeline.blobs.meta(result.videoKey)), 'the delivered video to go');
    expect(await h.pipeline.blobs.meta(result.posterKey!)).toMatchObject({ contentType: 'image/jpeg' });
    expect(await h.pipeline.blobs.meta(result.lastFrameKey!)).toMatchObject({ contentType: 'image/png' });
    expect(await h.metaTtl(result.posterKey!)).toBeGreaterThan(STORAGE_TTL - 60);
    expect(await h.metaTtl(result.lastFrameKey!)).toBeGreaterThan(STORAGE_TTL - 60);
    expect(await h.metaTtl(image.key)).toBeGreaterThan(STORAGE_TTL - 60);

    const last = await rgbOf((await h.pipeline.blobs.read(result.lastFrameKey!))!);
    expect({ width: last.width, height: last.height }).toEqual({ width: 832, height: 480 });
    const frames = await countFrames(delivered);
    expect(meanDifference(last, await decodeFrame(delivered, frames - 1, dir))).toBeLessThan(0.5);
  });

  it('posts the video before its stills are made, and a reader of the last frame during the post gets it', async () => {
    let release = () => {};
    stillsHeldBy = new Promise((resolve) => {
      release = resolve;
    });
    let stillsWhenPosted: unknown;
    let frameDuringPost: Buffer | undefined;
    try {
      const { result } = await h.run('extend at once', async (delivery) => {
        const { posterKey, lastFrameKey } = (delivery.outcome as { result: VideoResult }).result;
        stillsWhenPosted = await Promise.all([posterKey, lastFrameKey].map((key) => h.rawMeta(key!)));
        // As an Extend pressed the moment the video appears would: the read waits for the frame.
        const reading = h.pipeline.blobs.read(lastFrameKey!);
        release();
        frameDuringPost = await reading;
      });
      expect(stillsWhenPosted).toEqual([null, null]);
      const frame = await rgbOf(frameDuringPost!);
      expect({ width: frame.width, height: frame.height }).toEqual({ width: 832, height: 480 });
      expect(frameDuringPost!.equals((await h.pipeline.blobs.read(result.lastFrameKey!))!)).toBe(true);
    } finally {
      release();
      stillsHeldBy = undefined;
    }
  });

  it('still finishes a posted job whose stills could not be made, and its readers are told at once', async () => {
    stillsFailWith = new Error('ffmpeg ran out of memory');
    try {
      const { jobId, result } = await h.run('no stills');
      await waitFor(async () => (await h.pipeline.queue.state(jobId)) === 'completed', 'the job to finish');
      // The announcement is withdrawn: readers are not left waiting for it to lapse.
      expect(await h.rawComing(result.lastFrameKey!)).toBe(0);
      expect(await h.pipeline.blobs.read(result.lastFrameKey!)).toBeUndefined();
      expect(await h.pipeline.blobs.meta(result.posterKey!)).toBeUndefined();
      const finished = await h.pipeline.queue.queue.getJob(jobId);
      expect(finished?.returnvalue).not.toHaveProperty('lastFrameKey');
    } finally {
      stillsFailWith = undefined;
    }
  });

  it('keeps a video whose delivery failed, and deletes it once a retry posts it', async () => {
    let attempts = 0;
    let presentAfterFailure = false;
    const { result } = await h.run('fails once', async (delivery) => {
      attempts += 1;
      const { videoKey } = (delivery.outcome as { result: VideoResult }).result;
      if (attempts === 1) throw new Error('chat is down');
      presentAfterFailure = Boolean(await h.pipeline.blobs.meta(videoKey));
    });
    expect(attempts).toBe(2);
    expect(presentAfterFailure).toBe(true);
    await waitFor(async () => !(await h.pipeline.blobs.meta(result.videoKey)), 'the delivered video to go');
  });

  it('keeps a video linked publicly for as long as its link works, and serves it there', async () => {
    let url: string | undefined;
    const { result } = await h.run('too large', async (delivery, links) => {
      url = await links.create((delivery.outcome as { result: VideoResult }).result.videoKey, 'big.mp4');
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await h.pipeline.blobs.meta(result.videoKey)).toBeDefined();
    expect(await h.metaTtl(result.videoKey)).toBeGreaterThan(LINK_TTL - 60);

    const server: Server = createServer((req, res) => {
      void h.links.handle(req, res).then((handled) => handled || res.writeHead(404).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const path = new URL(url!).pathname;
      const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
      expect(res.statusCode).toBe(200);
      const body = Buffer.from(await res.body.arrayBuffer());
      expect(body.equals((await h.pipeline.blobs.read(result.videoKey))!)).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

const local = await startLocalS3('kinema-results');
const skipReason = 'why' in local ? local.why : undefined;

describe.skipIf(Boolean(skipReason))(
  skipReason ? `result storage in a bucket (skipped: ${skipReason})` : 'result storage in a bucket (s3rver)',
  () => {
    let h: Awaited<ReturnType<typeof harness>>;
    beforeAll(async () => {
      h = await harness('bucket', local);
    });
    afterAll(async () => {
      await h.close();
      if ('settings' in local) await local.close();
    });

    it('stores the video and its stills in the bucket and keeps the video after delivery', async () => {
      const { jobId, result } = await h.run('kept in the bucket');
      // s3rver shows an object while it is being written (S3 does not): look once the job is done.
      await waitFor(async () => (await h.pipeline.queue.state(jobId)) === 'completed', 'the stills');
      expect(await h.metaTtl(result.videoKey)).toBe(-2);
      expect(await h.metaTtl(result.lastFrameKey!)).toBe(-2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await h.pipeline.blobs.meta(result.videoKey)).toMatchObject({ contentType: 'video/mp4' });
      expect(await h.pipeline.blobs.meta(result.posterKey!)).toMatchObject({ contentType: 'image/jpeg' });
      expect(await h.pipeline.blobs.meta(result.lastFrameKey!)).toMatchObject({ contentType: 'image/png' });
    });
  },
);
