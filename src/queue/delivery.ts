import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DeliveryJobData, GenerationJobData, JobOutcome } from '../core/job.js';
import { telemetry } from '../core/telemetry.js';
import type { Logger } from '../log.js';
import { RedisFileStore } from '../storage/redis-files.js';
import { RunningJobs } from './running-jobs.js';

/**
 * Hears every final outcome where it happens (a worker, or a cancel of a waiting job), whether or
 * not a platform delivers it: the audit log, quota reservations, people's recent jobs. It must not
 * throw: bookkeeping never stops a delivery.
 */
export type OutcomeListener = (jobId: string, data: GenerationJobData, outcome: JobOutcome) => Promise<void>;

/**
 * Outcomes travel from whichever worker finished a job to the bot process that owns the chat
 * connection, on a queue per platform. A queue rather than an event: a bot that is restarting
 * when a video finishes still posts it when it comes back.
 */
export class Deliveries {
  private readonly queues = new Map<string, Queue<DeliveryJobData>>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly listener?: OutcomeListener,
  ) {}

  private queue(name: string) {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue<DeliveryJobData>(name, { connection: this.connection, prefix: this.prefix });
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Idempotent per job: a job that finishes twice (stall, retry) is delivered once. */
  async send(jobId: string, data: GenerationJobData, outcome: JobOutcome): Promise<void> {
    await this.listener?.(jobId, data, outcome);
    telemetry.jobFinished({
      outcome: outcome.kind,
      model: data.request.model,
      backend: data.remote?.backend ?? 'none',
      platform: data.requester.platform,
    });
    if (!data.deliverVia) return;
    const keep = { age: 7 * 24 * 3600, count: 5_000 };
    await this.queue(data.deliverVia).add(
      outcome.kind,
      {
        jobId,
        outcome,
        request: data.request,
        requester: data.requester,
        reportTo: data.reportTo,
        parentJobId: data.parentJobId,
        ...(data.parentKind ? { parentKind: data.parentKind } : {}),
        ...(data.group ? { group: data.group } : {}),
      },
      {
        jobId: `deliver-${jobId}`,
        attempts: 8,
        backoff: { type: 'exponential', delay: 2_000 },
        removeOnComplete: keep,
        removeOnFail: keep,
      },
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }
}

/**
 * What a handler did with stored videos: `videoKeys` are the ones it posted (and that may go now),
 * in place of the delivery's own (a group's video waits for the others, and leaves with them).
 */
export type DeliveryDone = { videoKeys: string[] };

const isDone = (value: unknown): value is DeliveryDone =>
  typeof value === 'object' && value !== null && Array.isArray((value as DeliveryDone).videoKeys);

/** Resolves to nothing, or to a DeliveryDone. */
export type DeliveryHandler = (delivery: DeliveryJobData, job: Job<DeliveryJobData>) => Promise<unknown>;

/**
 * Runs in the bot process: posts each outcome with the platform's reporter. Once a video is posted
 * it leaves Redis (unless a public link keeps it); results kept in a bucket are never in Redis, so
 * the Redis store is all this needs to know of storage.
 */
export class DeliveryWorker {
  private readonly worker: Worker<DeliveryJobData>;
  private readonly results: RedisFileStore;
  private readonly running = new RunningJobs();

  constructor(
    private readonly connection: Redis,
    prefix: string,
    queueName: string,
    handler: DeliveryHandler,
    log: Logger,
  ) {
    this.results = new RedisFileStore(connection, { prefix });
    const deliver = async (job: Job<DeliveryJobData>) => {
      const done = await handler(job.data, job);
      telemetry.jobDelivered({
        platform: job.data.requester.platform,
        deliverySeconds: Math.max(0, Date.now() - job.timestamp) / 1000,
      });
      const { outcome } = job.data;
      const own = outcome.kind === 'succeeded' ? [outcome.result.videoKey] : [];
      // Posted is what matters; a video that could not be deleted still expires (RESULT_TTL_HOURS).
      for (const key of isDone(done) ? done.videoKeys : own) {
        await this.results
          .deleteUnlessKept(key)
          .catch((error) =>
            log.warn({ err: error, jobId: job.data.jobId }, 'could not delete a delivered video'),
          );
      }
    };
    this.worker = new Worker<DeliveryJobData>(
      queueName,
      (job) => this.running.run(job.id!, () => deliver(job)),
      {
        connection,
        prefix,
        concurrency: 4,
      },
    );
    this.worker.on('failed', (job, error) =>
      log.warn({ err: error, jobId: job?.data.jobId, attempt: job?.attemptsMade }, 'delivery failed'),
    );
    this.worker.on('error', (error) => log.error({ err: error }, 'delivery worker error'));
  }

  /**
   * Waits for the posts in flight. While Redis is away none can be marked done anyway: a post cut
   * short stays active in BullMQ and is delivered again by the next bot process once its lock lapses.
   */
  async close(): Promise<void> {
    await this.running.stopped(this.worker.close(), this.connection);
  }
}
