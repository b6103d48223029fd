import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryJobData, GenerationJobData } from '../../src/core/job.js';
import { finaliseRequest } from '../../src/core/request.js';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import { type FakeInference, startFakeInference } from '../fakes/inference-sh/server.js';
import { makeMp4, makePng, tempDir } from '../support/media.js';
import { type Spawned, spawnTs, stopProcess, waitFor, waitForOutput } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * Stopping a worker as `docker stop` and systemd do, with `npm start` processes: SIGTERM ends the
 * process within SHUTDOWN_GRACE_SECONDS + 5 s even when its Redis is unreachable, and the job it was
 * rendering is not lost: another worker finishes it, with the one task that was paid for.
 */
const GRACE_SECONDS = 3;
const DELIVER = 'deliver-shutdown';
const target = new URL(TEST_REDIS_URL);
const proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
const redis = testRedis();
const prefix = uniquePrefix('shutdown');
const processes: Spawned[] = [];
const delivered: DeliveryJobData[] = [];
let fake: FakeInference;
let pipeline: Pipeline;
let deliveries: Worker<DeliveryJobData>;
let png: Buffer;
let cleanup: () => Promise<void>;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function startWorker(redisUrl: string, extra: Record<string, string> = {}) {
  const spawned = spawnTs('src/main.ts', {
    REDIS_URL: redisUrl,
    KINEMA_PREFIX: prefix,
    KINEMA_ROLE: 'worker',
    BACKEND: 'inference',
    INFERENCE_API_URL: fake.apiUrl,
    INFERENCE_API_KEY: fake.apiKey,
    INFERENCE_OUTPUT_HOSTS: fake.storageHost,
    WORKER_CONCURRENCY: '1',
    SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS),
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    ...extra,
  });
  processes.push(spawned);
  return spawned;
}

/** The process's exit code, or 'still running' if it has not exited within `seconds`. */
function exitWithin(spawned: Spawned, seconds: number): Promise<number | null | 'still running'> {
  return Promise.race([spawned.exited, sleep(seconds * 1000, 'still running' as const, { ref: false })]);
}

async function healthz(port: number): Promise<number | 'no answer'> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 'no answer';
  }
}

async function enqueue(prompt: string): Promise<string> {
  const image = await pipeline.inputs.save({
    bytes: png,
    contentType: 'image/png',
    width: 64,
    height: 48,
    filename: 'cat.png',
  });
  const jobId = `sd-${Math.random().toString(36).slice(2, 10)}`;
  const data: GenerationJobData = {
    request: finaliseRequest({ prompt }, { input_image: image }, 'wan2.2-a14b'),
    requester: { platform: 'test', userId: 'u1' },
    reportTo: { platform: 'test' },
    deliverVia: DELIVER,
    createdAt: Date.now(),
    notes: [],
  };
  await pipeline.queue.enqueue(jobId, data);
  return jobId;
}

/** Waits until the job's task runs at the fake and its id is stored in the job. */
async function runningTask(jobId: string): Promise<string> {
  const taskId = await waitFor(
    async () =>
      ((await pipeline.queue.queue.getJob(jobId)) as Job<GenerationJobData> | undefined)?.data.remote?.taskId,
    'a stored task id',
    30_000,
  );
  await waitFor(() => fake.task(taskId)?.status === 7, 'the task to run', 30_000);
  return taskId;
}

const cancels = () => fake.requests().filter((request) => request.path.endsWith('/cancel')).length;

beforeAll(async () => {
  await proxy.listen();
  const media = await tempDir('shutdown');
  cleanup = media.cleanup;
  await makeMp4(join(media.dir, 'served.mp4'), { seconds: 1, faststart: true });
  fake = await startFakeInference({
    video: await readFile(join(media.dir, 'served.mp4')),
    faults: { pauseAt: 7 },
  });
  png = await makePng(64, 48);
  pipeline = new Pipeline({ redisUrl: TEST_REDIS_URL, prefix, log: createLogger('silent') });
  deliveries = new Worker<DeliveryJobData>(
    DELIVER,
    async (job) => {
      delivered.push(job.data);
    },
    { connection: redis.duplicate(), prefix },
  );
});

afterEach(async () => {
  await proxy.listen().catch(() => undefined);
  await Promise.all(processes.splice(0).map((spawned) => stopProcess(spawned, 'SIGKILL')));
});

afterAll(async () => {
  await deliveries?.close();
  await pipeline?.close();
  await proxy.cut();
  await fake?.close();
  await cleanup?.();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('stopping a worker process', () => {
  it('exits on SIGTERM within the grace period + 5 s with Redis unreachable; another worker finishes the job with the same task', async () => {
    const port = await freePort();
    const first = startWorker(`redis://127.0.0.1:${proxy.port}`, { HTTP_PORT: String(port) });
    await waitForOutput(first, 'worker started');
    const jobId = await enqueue('a cat yawns through a Redis outage');
    const taskId = await runningTask(jobId);
    expect(await healthz(port)).toBe(200);

    await proxy.cut();
    // A health check gets its answer at once (its own timeout is 2 s), not when Redis is back.
    expect(await healthz(port)).toBe(503);
    await proxy.listen();
    await waitFor(async () => (await healthz(port)) === 200, '/healthz to answer 200 again');
    await proxy.cut();

    first.child.kill('SIGTERM');
    expect(await exitWithin(first, GRACE_SECONDS + 5)).toBe(0);
    expect(first.output()).toMatch(/left for another worker/);
    // Nothing could be handed back without Redis: the job is still active, its task running, never cancelled.
    expect(await pipeline.queue.state(jobId)).toBe('active');
    expect(fake.task(taskId)?.status).toBe(7);
    expect(cancels()).toBe(0);

    // Redis is back for the next worker: BullMQ's stall check gives it the job, which follows the same task.
    const second = startWorker(TEST_REDIS_URL);
    await waitForOutput(second, 'worker started');
    fake.resume();
    const delivery = await waitFor(
      () => delivered.find((item) => item.jobId === jobId),
      'the job to be finished by the second worker',
      60_000,
    );
    expect(delivery.outcome).toMatchObject({ kind: 'succeeded', result: { taskId } });
    expect(fake.tasksCreated()).toBe(1);
    expect(cancels()).toBe(0);
    expect(second.output()).toMatch(/re-attaching to the remote task/);
  }, 150_000);

  it('exits at once on a second signal while the first waits out the grace period', async () => {
    fake.setFault({ pauseAt: 7 });
    const worker = startWorker(TEST_REDIS_URL, { SHUTDOWN_GRACE_SECONDS: '120' });
    await waitForOutput(worker, 'worker started');
    const jobId = await enqueue('a second signal');
    const taskId = await runningTask(jobId);

    worker.child.kill('SIGTERM');
    await waitForOutput(worker, 'shutting down');
    expect(await exitWithin(worker, 1)).toBe('still running');
    worker.child.kill('SIGINT');
    expect(await exitWithin(worker, 5)).toBe(130);
    // The job was not handed back, and its task goes on: the stall check gives it to the next worker.
    expect(fake.task(taskId)?.status).toBe(7);
    expect(cancels()).toBe(0);
    fake.resume();
  }, 120_000);
});
