import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finaliseRequest } from '../../src/core/request.js';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import { copyPreparer } from '../support/copy-preparer.js';
import { waitFor } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';
import { ScriptedBackend } from '../support/scripted-backend.js';
import { type ScriptedService, startScriptedService } from '../support/scripted-service.js';

/**
 * MAX_ACTIVE_PER_USER where jobs start: with two worker slots and a cap of one, a person's second
 * job is put back (keeping its turn) while their first renders, and someone else's job takes the
 * free slot; it starts as soon as the first one finishes.
 */
const redis = testRedis();
const prefix = uniquePrefix('caps');
let pipeline: Pipeline;
let service: ScriptedService;
const labels = new Map<string, string>();

async function send(person: string, label: string): Promise<string> {
  const image = await pipeline.inputs.save({
    bytes: Buffer.from('png'),
    contentType: 'image/png',
    width: 64,
    height: 64,
    filename: 'in.png',
  });
  const jobId = `caps-${label}`;
  labels.set(jobId, label);
  await pipeline.queue.enqueue(jobId, {
    request: finaliseRequest({ prompt: label }, { input_image: image }, 'wan2.1'),
    requester: { platform: 'test', userId: person, scopeId: 'server-1' },
    reportTo: { platform: 'test' },
    createdAt: Date.now(),
    notes: [],
  });
  return jobId;
}

const job = (label: string) => pipeline.queue.queue.getJob(`caps-${label}`);
const taskOf = async (label: string) => (await job(label))?.data.remote?.taskId;
const submittedOrder = async () => {
  const byTask = new Map<string, string>();
  for (const [jobId, label] of labels) {
    const taskId = (await pipeline.queue.queue.getJob(jobId))?.data.remote?.taskId;
    if (taskId) byTask.set(taskId, label);
  }
  return service.tasks().flatMap((task) => byTask.get(task.id) ?? []);
};

beforeAll(async () => {
  service = await startScriptedService({ video: Buffer.from('mp4'), steps: 2, stepMs: 10 });
  service.holdNewTasks(true);
  pipeline = new Pipeline({
    redisUrl: TEST_REDIS_URL,
    prefix,
    log: createLogger('silent'),
    backoffMs: 50,
    community: { env: { MAX_ACTIVE_PER_USER: 1, MODERATION_IMAGES: false }, defaultModel: 'wan2.1' },
  });
});

afterAll(async () => {
  service.holdNewTasks(false);
  service.release();
  await pipeline.close();
  await service.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('the rendering cap, enforced where jobs start', () => {
  it('never renders two of one person’s jobs at once, and lets another person’s job go first meanwhile', async () => {
    await pipeline.startWorker(new ScriptedBackend(service.url, 10), copyPreparer, {
      concurrency: 2,
      lockDurationMs: 1_500,
      stalledIntervalMs: 1_000,
      progressIntervalMs: 0,
    });
    await send('A', 'A1');
    await send('A', 'A2');
    await send('A', 'A3');

    // A1 renders; the second slot took A2 and A3 in turn and put both back, their turns kept.
    await waitFor(() => service.tasks().length >= 1, 'A1 to render');
    const held = async (label: string) => {
      const waiting = await job(label);
      return (await waiting?.getState()) === 'delayed' && waiting?.data.held === 'cap';
    };
    await waitFor(async () => (await held('A2')) && (await held('A3')), 'A2 and A3 held back');
    expect((await job('A2'))?.priority).toBeGreaterThan(0);

    // B, who sends later, starts at once on the free slot.
    await send('B', 'B1');
    await waitFor(() => service.tasks().length >= 2, 'B1 to render');
    expect(await submittedOrder()).toEqual(['A1', 'B1']);

    // B1 finishes and frees a slot, but A's jobs stay held while A1 renders.
    service.release((await taskOf('B1'))!);
    await waitFor(async () => (await job('B1'))?.finishedOn !== undefined, 'B1 to finish');
    expect((await held('A2')) && (await held('A3'))).toBe(true);
    expect(service.tasks()).toHaveLength(2);

    // A1 finishes: A2 is promoted at once (not after its recheck delay) and starts; A3 still waits.
    service.release((await taskOf('A1'))!);
    await waitFor(() => service.tasks().length >= 3, 'A2 to start');
    expect(await submittedOrder()).toEqual(['A1', 'B1', 'A2']);
    expect((await job('A2'))?.data.held).toBeUndefined();
    expect(await (await job('A3'))?.getState()).toBe('delayed');

    service.release((await taskOf('A2'))!);
    await waitFor(() => service.tasks().length >= 4, 'A3 to start');
    service.holdNewTasks(false);
    service.release();
    await waitFor(
      async () => (await pipeline.queue.queue.getJobCountByTypes('completed')) >= 4,
      'every job to finish',
    );
    expect(await submittedOrder()).toEqual(['A1', 'B1', 'A2', 'A3']);
    // Held back is not a failed attempt: every job completed on its first try.
    for (const label of ['A1', 'A2', 'A3', 'B1']) expect((await job(label))?.attemptsMade).toBe(1);
  });
});
