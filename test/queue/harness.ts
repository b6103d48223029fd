import { randomUUID } from 'node:crypto';
import { copyFile, stat } from 'node:fs/promises';
import { QueueKeys } from 'bullmq';
import type { QueueBand } from '../../src/core/job.js';
import type { StoredImage } from '../../src/core/request.js';
import { finaliseRequest } from '../../src/core/request.js';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import { GENERATE_QUEUE } from '../../src/queue/connection.js';
import type { GenerationWorker } from '../../src/queue/generation-worker.js';
import { type Spawned, spawnTs, stopProcess, waitFor, waitForOutput } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';
import { ScriptedBackend } from '../support/scripted-backend.js';
import { type ScriptedService, startScriptedService } from '../support/scripted-service.js';

const copyPreparer = async (input: string, output: string) => {
  await copyFile(input, output);
  return { bytes: (await stat(output)).size };
};

/**
 * One fair-queue scenario: its own key prefix, a scripted render service, the real queue and the
 * real worker. Jobs carry labels ("A1") so orders read like the examples.
 */
export class FairQueueHarness {
  readonly redis = testRedis();
  readonly prefix = uniquePrefix('fair');
  readonly pipeline = new Pipeline({
    redisUrl: TEST_REDIS_URL,
    prefix: this.prefix,
    log: createLogger('silent'),
    backoffMs: 50,
  });
  private readonly labels = new Map<string, string>();
  private readonly ids = new Map<string, string>();
  private readonly children: Spawned[] = [];
  private image?: StoredImage;

  private constructor(readonly service: ScriptedService) {}

  static async start(): Promise<FairQueueHarness> {
    // Tasks hold until released, so a test decides when a worker slot frees up.
    const service = await startScriptedService({ video: Buffer.from('mp4'), steps: 2, stepMs: 10 });
    service.holdNewTasks(true);
    return new FairQueueHarness(service);
  }

  /** `person` sends a job labelled `label` (e.g. "A3"). */
  async send(person: string, label: string, band?: QueueBand): Promise<string> {
    this.image ??= await this.pipeline.inputs.save({
      bytes: Buffer.from('png bytes'),
      contentType: 'image/png',
      width: 64,
      height: 64,
      filename: 'in.png',
    });
    const jobId = `f-${label}-${randomUUID().slice(0, 8)}`;
    this.labels.set(jobId, label);
    this.ids.set(label, jobId);
    await this.pipeline.queue.enqueue(
      jobId,
      {
        request: finaliseRequest({ prompt: label }, { input_image: this.image }, 'wan2.1'),
        requester: { platform: 'test', userId: person },
        reportTo: { platform: 'test' },
        createdAt: Date.now(),
        notes: [],
      },
      band ? { band } : {},
    );
    return jobId;
  }

  /** Sends `count` jobs for `person`, labelled by person and number from `from`. */
  async sendMany(person: string, count: number, from = 1): Promise<void> {
    for (let n = from; n < from + count; n += 1) await this.send(person, `${person}${n}`);
  }

  id(label: string): string {
    return this.ids.get(label)!;
  }

  /** A worker with one slot in this process; the pipeline closes it. */
  startWorker(): Promise<GenerationWorker> {
    return this.pipeline.startWorker(new ScriptedBackend(this.service.url, 10), copyPreparer, {
      concurrency: 1,
      lockDurationMs: 1_500,
      stalledIntervalMs: 1_000,
      progressIntervalMs: 0,
      shutdownGraceMs: 100,
    });
  }

  /** A worker in its own Node process (one slot), as `KINEMA_ROLE=worker` on another machine. */
  async startWorkerProcess(): Promise<Spawned> {
    const child = spawnTs('test/support/worker-process.ts', {
      REDIS_URL: TEST_REDIS_URL,
      KINEMA_PREFIX: this.prefix,
      SCRIPTED_SERVICE_URL: this.service.url,
      WORKER_CONCURRENCY: '1',
    });
    this.children.push(child);
    await waitForOutput(child, 'ready');
    return child;
  }

  /** Waits until `count` tasks reached the render service (that many jobs have started). */
  async startedCount(count: number): Promise<void> {
    await waitFor(() => this.service.tasks().length >= count, `${count} started jobs`);
  }

  /**
   * With two worker slots busy, frees one at a time, oldest task first, until `total` jobs ran: each
   * later job starts while exactly one slot is free, so it reaches the service in dispatch order.
   */
  async releaseOneAtATime(total: number): Promise<void> {
    await this.startedCount(2);
    for (let k = 0; k < total; k += 1) {
      this.service.release(this.service.tasks()[k]!.id);
      await this.startedCount(Math.min(k + 3, total));
    }
    await this.waitUntilCompleted(total);
  }

  /** Lets every task finish, now and from now on. */
  releaseAll(): void {
    this.service.holdNewTasks(false);
    this.service.release();
  }

  /** Lets everything run until `total` jobs completed; returns the order they were taken in. */
  async runToEnd(total: number): Promise<string[]> {
    this.releaseAll();
    await this.waitUntilCompleted(total);
    return this.takenOrder();
  }

  async waitUntilCompleted(count: number): Promise<void> {
    await waitFor(
      async () => (await this.pipeline.queue.queue.getJobCountByTypes('completed')) >= count,
      `${count} completed jobs`,
      60_000,
    );
  }

  /**
   * Every time a worker took a job, in the order Redis handed them out: BullMQ writes its `active`
   * event in the same script that moves the job to active. With one worker slot this is also the
   * order in which jobs started.
   */
  async takenOrder(): Promise<string[]> {
    const { events } = new QueueKeys(this.prefix).getKeys(GENERATE_QUEUE) as { events: string };
    const entries = await this.redis.xrange(events, '-', '+');
    return entries
      .map(([, fields]) => Object.fromEntries(pairs(fields)))
      .filter((event) => event.event === 'active')
      .map((event) => this.labels.get(event.jobId!) ?? event.jobId!);
  }

  /** The order in which jobs reached the render service (their processor's first paid step). */
  async submittedOrder(): Promise<string[]> {
    const byTask = new Map<string, string>();
    for (const [jobId, label] of this.labels) {
      const taskId = (await this.pipeline.queue.queue.getJob(jobId))?.data.remote?.taskId;
      if (taskId) byTask.set(taskId, label);
    }
    return this.service.tasks().flatMap((task) => byTask.get(task.id) ?? []);
  }

  /** Waiting jobs in the order `positions()` reports them; checks `position()` says the same. */
  async reportedOrder(): Promise<string[]> {
    const positions = await this.pipeline.queue.positions();
    const ordered = [...positions.entries()].sort(([, a], [, b]) => a.position - b.position);
    for (const [jobId, place] of ordered) {
      const single = await this.pipeline.queue.position(jobId);
      if (single?.position !== place.position || single.of !== place.of) {
        throw new Error(
          `position(${jobId}) = ${JSON.stringify(single)}, positions() = ${JSON.stringify(place)}`,
        );
      }
    }
    return ordered.map(([jobId]) => this.labels.get(jobId) ?? jobId);
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((child) => stopProcess(child, 'SIGKILL')));
    this.releaseAll();
    await this.pipeline.close();
    await this.service.close();
    await cleanPrefix(this.redis, this.prefix);
    await this.redis.quit();
  }
}

function pairs(fields: string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) result.push([fields[i]!, fields[i + 1]!]);
  return result;
}

/** `labels("A", 2, 10)` → A2 … A10. */
export const labels = (person: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${person}${from + i}`);

/** Round robin over people with `count` jobs each: A1 B1 C1 A2 B2 C2 … */
export const roundRobin = (people: string[], count: number) =>
  Array.from({ length: count }, (_, round) => people.map((person) => `${person}${round + 1}`)).flat();
