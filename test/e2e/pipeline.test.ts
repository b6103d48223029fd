import { randomUUID } from 'node:crypto';
import { copyFile, stat } from 'node:fs/promises';
import { type Job, QueueEvents, Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryJobData, GenerationJobData, JobProgress } from '../../src/core/job.js';
import { finaliseRequest } from '../../src/core/request.js';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import { GENERATE_QUEUE } from '../../src/queue/connection.js';
import { GenerationWorker } from '../../src/queue/generation-worker.js';
import { type Spawned, spawnTs, stopProcess, waitFor, waitForOutput } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';
import { ScriptedBackend } from '../support/scripted-backend.js';
import { type ScriptedService, startScriptedService } from '../support/scripted-service.js';

const VIDEO = Buffer.from(`not really an mp4 but unique ${randomUUID()}`.repeat(50));
const DELIVER = 'deliver-test';
// BullMQ runs one stalled check per interval for all workers; every worker here uses the same short one.
const FAST = { lockDurationMs: 1_500, stalledIntervalMs: 1_000, progressIntervalMs: 0 };
const copyPreparer = async (input: string, output: string) => {
  await copyFile(input, output);
  return { bytes: (await stat(output)).size };
};

const redis = testRedis();
let prefix: string;
let service: ScriptedService;
let pipeline: Pipeline;
let deliveries: DeliveryJobData[];
let deliveryWorker: Worker<DeliveryJobData>;
const children: Spawned[] = [];

async function enqueue(prompt = 'a cat yawns', attempts?: number) {
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
    requester: { platform: 'test', userId: 'u1', displayName: 'Tester' },
    reportTo: { platform: 'test', channel: 'c1' },
    deliverVia: DELIVER,
    createdAt: Date.now(),
    notes: [],
  };
  if (attempts) {
    await pipeline.queue.queue.add('generate', data, {
      jobId,
      attempts,
      backoff: { type: 'fixed', delay: 50 },
    });
  } else {
    await pipeline.queue.enqueue(jobId, data);
  }
  return jobId;
}

function startWorkerProcess(extra: Record<string, string> = {}) {
  const spawned = spawnTs('test/support/worker-process.ts', {
    REDIS_URL: TEST_REDIS_URL,
    KINEMA_PREFIX: prefix,
    SCRIPTED_SERVICE_URL: service.url,
    ...extra,
  });
  children.push(spawned);
  return spawned;
}

const deliveryFor = (jobId: string) =>
  waitFor(() => deliveries.find((d) => d.jobId === jobId), `delivery of ${jobId}`);

beforeAll(async () => {
  prefix = uniquePrefix('pipeline');
  service = await startScriptedService({ video: VIDEO, steps: 4, stepMs: 30 });
  pipeline = new Pipeline({ redisUrl: TEST_REDIS_URL, prefix, log: createLogger('silent'), backoffMs: 50 });
  deliveries = [];
  deliveryWorker = new Worker<DeliveryJobData>(
    DELIVER,
    async (job) => {
      deliveries.push(job.data);
    },
    { connection: redis.duplicate(), prefix },
  );
});

afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => stopProcess(child, 'SIGKILL')));
  service.holdNewTasks(false);
  service.release();
  service.failTasksWith(undefined);
});

afterAll(async () => {
  await deliveryWorker.close();
  await pipeline.close();
  await service.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('job pipeline on a real Redis', () => {
  it('runs a job end to end with progress in order and delivers the stored video', async () => {
    const events = new QueueEvents(GENERATE_QUEUE, { connection: redis.duplicate(), prefix });
    await events.waitUntilReady();
    const seen: JobProgress[] = [];
    events.on('progress', ({ data }) => seen.push(data as unknown as JobProgress));
    const worker = await pipeline.startWorker(new ScriptedBackend(service.url), copyPreparer, FAST);
    try {
      const jobId = await enqueue();
      const delivery = await deliveryFor(jobId);
      expect(delivery.outcome.kind).toBe('succeeded');
      if (delivery.outcome.kind !== 'succeeded') return;
      const stored = await pipeline.blobs.read(delivery.outcome.result.videoKey);
      expect(stored?.equals(VIDEO)).toBe(true);
      expect(delivery.outcome.result.seed).toBe(delivery.request.seed);
      await waitFor(() => seen.some((p) => p.phase === 'delivering'), 'the last progress event');
      const phases = seen.map((p) => p.phase).filter((phase, i, all) => phase !== all[i - 1]);
      expect(phases).toEqual(['uploading', 'submitted', 'running', 'encoding', 'delivering']);
      const percents = seen.filter((p) => p.phase === 'running').map((p) => p.percent ?? 0);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      expect(seen.find((p) => p.phase === 'running')?.taskId).toBe(delivery.outcome.result.taskId);
    } finally {
      await worker.close();
      await events.close();
    }
  });

  it('enqueues a retried chat event once', async () => {
    const image = await pipeline.inputs.save({
      bytes: Buffer.from('x'),
      contentType: 'image/png',
      width: 8,
      height: 8,
      filename: 'x.png',
    });
    const data: GenerationJobData = {
      request: finaliseRequest({ prompt: 'twice' }, { input_image: image }, 'wan2.1'),
      requester: { platform: 'test', userId: 'u1' },
      reportTo: { platform: 'test' },
      createdAt: Date.now(),
      notes: [],
    };
    const first = await pipeline.queue.enqueue('dc-12345a', data);
    const second = await pipeline.queue.enqueue('dc-12345a', data);
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(await pipeline.queue.queue.getJobCountByTypes('waiting', 'prioritized')).toBeGreaterThanOrEqual(1);
    await (await pipeline.queue.queue.getJob('dc-12345a'))?.remove();
  });

  it('cancels a waiting job and an active one from another process than the worker', async () => {
    const before = service.submissions();
    service.holdNewTasks(true);
    const worker = startWorkerProcess();
    await waitForOutput(worker, 'ready');
    const active = await enqueue('first');
    await waitFor(
      () => service.tasks().some((t) => t.status === 'queued' || t.status === 'running'),
      'a task',
    );
    const waiting = await enqueue('second');
    expect(await pipeline.queue.state(waiting)).toBe('waiting');
    expect(await pipeline.queue.position(waiting)).toEqual({ position: 1, of: 1 });

    expect(await pipeline.cancel({ jobId: waiting, by: 'Tester' })).toBe('removed');
    expect((await deliveryFor(waiting)).outcome).toEqual({ kind: 'cancelled', by: 'Tester' });

    expect(await pipeline.cancel({ jobId: active, by: 'Tester' })).toBe('signalled');
    const delivery = await deliveryFor(active);
    expect(delivery.outcome).toEqual({ kind: 'cancelled', by: 'Tester' });
    const task = service.tasks().find((t) => t.cancelRequests > 0);
    expect(task?.status).toBe('cancelled');
    await waitFor(async () => (await pipeline.queue.state(active)) === 'failed', 'the cancelled job to fail');
    expect(service.submissions() - before).toBe(1);
  });

  it('re-attaches to the same remote task when a worker is killed mid-job', async () => {
    const before = service.submissions();
    service.holdNewTasks(true);
    const first = startWorkerProcess();
    await waitForOutput(first, 'ready');
    const jobId = await enqueue('survive a crash');
    await waitFor(
      async () => (await pipeline.queue.queue.getJob(jobId))?.data.remote?.taskId,
      'a stored task id',
    );
    await stopProcess(first, 'SIGKILL');

    const second = startWorkerProcess();
    await waitForOutput(second, 'ready');
    service.release();
    const delivery = await deliveryFor(jobId);
    expect(delivery.outcome.kind).toBe('succeeded');
    expect(service.submissions() - before).toBe(1);
  });

  it("by default frees a dead worker's job within 15 s, at the first stall check after its lock lapses", async () => {
    const worker = new GenerationWorker(
      {
        connection: redis,
        backend: new ScriptedBackend(service.url),
        inputs: pipeline.inputs,
        results: pipeline.blobs,
        deliveries: pipeline.deliveries,
        cancels: pipeline.cancels,
        prepareVideo: copyPreparer,
        log: createLogger('silent'),
      },
      { prefix },
    );
    const lock = Number(worker.worker.opts.lockDuration);
    const renew = Number(worker.worker.opts.lockRenewTime);
    const check = Number(worker.worker.opts.stalledInterval);
    await worker.worker.close();
    // The lock lapses at most `lock` after the dead worker's last renewal; the next check frees it.
    expect(lock + check).toBeLessThan(15_000);
    // A check always falls between the last renewal and the lapse, so one check after the lapse is enough.
    expect(check).toBeLessThan(lock - renew);
    // A live job keeps its lock through an event loop held up for most of the lock.
    expect(renew).toBeLessThanOrEqual(lock / 4);
  });

  it("gives a killed worker's job to another worker at the first stall check after its lock lapses", async () => {
    // The same proportions as the defaults, scaled down: a check falls well inside every lock.
    const timings = { lockDurationMs: 2_000, stalledIntervalMs: 500 };
    const before = service.submissions();
    service.holdNewTasks(true);
    const first = startWorkerProcess({
      LOCK_DURATION_MS: String(timings.lockDurationMs),
      STALLED_INTERVAL_MS: String(timings.stalledIntervalMs),
    });
    await waitForOutput(first, 'ready');
    const jobId = await enqueue('taken over');
    const taskId = await waitFor(
      async () => (await pipeline.queue.queue.getJob(jobId))?.data.remote?.taskId,
      'a stored task id',
    );
    const second = await pipeline.startWorker(new ScriptedBackend(service.url), copyPreparer, {
      ...FAST,
      ...timings,
    });
    const events = new QueueEvents(GENERATE_QUEUE, { connection: redis.duplicate(), prefix });
    await events.waitUntilReady();
    const seen: string[] = [];
    for (const name of ['stalled', 'active', 'completed'] as const) {
      events.on(name, (event: { jobId: string }) => {
        if (event.jobId === jobId) seen.push(name);
      });
    }
    // Every stall check stamps this key with its time, and the job's lock is a key of its own.
    const checkKey = pipeline.queue.queue.keys['stalled-check']!;
    const lockKey = `${pipeline.queue.queue.toKey(jobId)}:lock`;
    const checks = new Set<number>();
    let lapsedAt: number | undefined;
    const watching = (async () => {
      while (!seen.includes('stalled')) {
        const [lock, check] = await Promise.all([redis.exists(lockKey), redis.get(checkKey)]);
        if (check) checks.add(Number(check));
        if (!lock) lapsedAt ??= Date.now();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    try {
      await stopProcess(first, 'SIGKILL');
      await watching;
      // The check that freed the job stamped the key last (the 'stalled' event is written by it).
      const freedBy = Number(await redis.get(checkKey));
      service.release();
      const delivery = await deliveryFor(jobId);
      expect(delivery.outcome).toMatchObject({ kind: 'succeeded', result: { taskId } });
      expect(lapsedAt).toBeDefined();
      expect([...checks].filter((at) => at >= lapsedAt! && at < freedBy)).toEqual([]);
      // The job completes once its poster and last frame are stored, just after the delivery is sent.
      await waitFor(() => seen.includes('completed'), 'the job to complete').catch(() => undefined);
      expect(seen).toEqual(['stalled', 'active', 'completed']);
      expect(service.submissions() - before).toBe(1);
    } finally {
      await second.close();
      await events.close();
    }
  });

  it('hands an active job to another worker on SIGTERM without submitting again', async () => {
    const before = service.submissions();
    service.holdNewTasks(true);
    const first = startWorkerProcess({ SHUTDOWN_GRACE_MS: '200' });
    await waitForOutput(first, 'ready');
    const jobId = await enqueue('graceful');
    await waitFor(
      async () => (await pipeline.queue.queue.getJob(jobId))?.data.remote?.taskId,
      'a stored task id',
    );
    await stopProcess(first, 'SIGTERM');
    expect(await first.exited).toBe(0);
    expect(['waiting', 'delayed']).toContain(await pipeline.queue.state(jobId));

    const second = startWorkerProcess();
    await waitForOutput(second, 'ready');
    service.release();
    expect((await deliveryFor(jobId)).outcome.kind).toBe('succeeded');
    expect(service.submissions() - before).toBe(1);
  });

  it('cancels the remote task of a job that went back to the queue with one running', async () => {
    service.holdNewTasks(true);
    const first = startWorkerProcess({ SHUTDOWN_GRACE_MS: '100' });
    await waitForOutput(first, 'ready');
    const jobId = await enqueue('handed back, then cancelled');
    const taskId = await waitFor(
      async () => (await pipeline.queue.queue.getJob(jobId))?.data.remote?.taskId,
      'a stored task id',
    );
    await stopProcess(first, 'SIGTERM');
    expect(['waiting', 'delayed']).toContain(await pipeline.queue.state(jobId));
    expect(await pipeline.cancel({ jobId, by: 'Tester' })).toBe('signalled');

    const second = startWorkerProcess();
    await waitForOutput(second, 'ready');
    expect((await deliveryFor(jobId)).outcome).toEqual({ kind: 'cancelled', by: 'Tester' });
    const task = service.tasks().find((candidate) => candidate.id === taskId);
    expect(task?.cancelRequests).toBeGreaterThan(0);
    expect(task?.status).toBe('cancelled');
  });

  it('never resubmits when a crash left the submission outcome unknown', async () => {
    const before = service.submissions();
    const jobId = await enqueue('ambiguous');
    const job = (await pipeline.queue.queue.getJob(jobId)) as Job<GenerationJobData>;
    await job.updateData({
      ...job.data,
      remote: { backend: 'scripted', state: 'submitting', submittedAt: 1 },
    });
    const worker = await pipeline.startWorker(new ScriptedBackend(service.url), copyPreparer, FAST);
    try {
      const delivery = await deliveryFor(jobId);
      expect(delivery.outcome.kind).toBe('failed');
      if (delivery.outcome.kind === 'failed') expect(delivery.outcome.message).toMatch(/may already exist/);
      expect(service.submissions()).toBe(before);
    } finally {
      await worker.close();
    }
  });

  it('retries transient failures and fails user errors at once with their message', async () => {
    const worker = await pipeline.startWorker(new ScriptedBackend(service.url), copyPreparer, FAST);
    try {
      service.failNextSubmissions(2, 503);
      const retried = await enqueue('flaky', 4);
      expect((await deliveryFor(retried)).outcome.kind).toBe('succeeded');
      expect((await pipeline.queue.queue.getJob(retried))?.attemptsMade).toBeGreaterThanOrEqual(2);

      service.failNextSubmissions(2, 503);
      const exhausted = await enqueue('always busy', 2);
      const gaveUp = await deliveryFor(exhausted);
      expect(gaveUp.outcome).toMatchObject({ kind: 'failed' });
      if (gaveUp.outcome.kind === 'failed') expect(gaveUp.outcome.message).toMatch(/kept failing.*503/);
      expect(deliveries.filter((d) => d.jobId === exhausted)).toHaveLength(1);

      service.failTasksWith('the prompt was refused by the safety checker');
      const refused = await enqueue('refused', 4);
      const delivery = await deliveryFor(refused);
      expect(delivery.outcome).toMatchObject({
        kind: 'failed',
        message: 'the prompt was refused by the safety checker',
      });
      expect((await pipeline.queue.queue.getJob(refused))?.attemptsMade).toBe(1);
    } finally {
      await worker.close();
    }
  });

  it('rides out a Redis reconnect mid-job: every connection dropped, the job still finishes once', async () => {
    const before = service.submissions();
    service.holdNewTasks(true);
    const worker = await pipeline.startWorker(new ScriptedBackend(service.url), copyPreparer, FAST);
    try {
      const jobId = await enqueue('reconnect');
      await waitFor(
        async () => (await pipeline.queue.queue.getJob(jobId))?.data.remote?.taskId,
        'a stored task id',
      );
      // Drop every connection of this test's processes, as a Redis restart or a network blip would.
      const clients = (await redis.client('LIST')) as string;
      const ours = clients
        .split('\n')
        .filter((line) => line.includes(prefix))
        .map((line) => /(?:^| )id=(\d+)/.exec(line)?.[1])
        .filter((id): id is string => Boolean(id));
      expect(ours.length).toBeGreaterThan(2);
      for (const id of ours) await redis.client('KILL', 'ID', id).catch(() => undefined);
      service.release();
      expect((await deliveryFor(jobId)).outcome.kind).toBe('succeeded');
      expect(service.submissions() - before).toBe(1);
    } finally {
      await worker.close();
    }
  });
});
