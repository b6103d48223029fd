import { type Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { GenerationJobData, JobProgress, QueueBand, Requester } from '../core/job.js';
import { GENERATE_QUEUE } from './connection.js';
import { FairShare } from './fair-share.js';
import { QueueOrder, type QueuePosition } from './queue-order.js';
import { JobRecords } from './records.js';

export type { QueuePosition } from './queue-order.js';

export interface GenerationQueueOptions {
  prefix: string;
  attempts?: number;
  backoffMs?: number;
  recordTtlSeconds?: number;
  /** How long finished jobs stay inspectable (and their ids de-duplicate). */
  keepFinishedSeconds?: number;
}

export type JobState = 'waiting' | 'active' | 'delayed' | 'prioritized' | 'completed' | 'failed' | 'unknown';

export interface EnqueueOptions {
  /** Whom fairness counts the job for; by default the requester on their platform (see `personOf`). */
  person?: string;
  /** `relax` queues the job behind every job within quota (QUOTA_OVERFLOW=relax); default `normal`. */
  band?: QueueBand;
}

/** One person across every server, workspace and DM of a platform; Discord and Slack ids stay apart. */
export const personOf = (requester: Requester) => `${requester.platform}:${requester.userId}`;

export interface EnqueueResult {
  jobId: string;
  /** True when a job with this id already existed: a retried chat event, a double click. */
  duplicate: boolean;
}

const BULLMQ_ID = /^[A-Za-z0-9_.-]+$/;

/** Name of the worker's backoff strategy (see `retryDelay`). */
export const RETRY_BACKOFF = 'kinema';

/**
 * Exponential backoff with jitter, capped at ten minutes, and never sooner than a service asked
 * (Retry-After or a rate-limit reset, carried by TransientError.retryAfterMs).
 */
export function retryDelay(attemptsMade: number, baseMs: number, error?: Error): number {
  const exponential = Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), 10 * 60_000);
  const jittered = Math.round(exponential * (0.7 + Math.random() * 0.3));
  const asked = (error as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return Math.max(jittered, typeof asked === 'number' && Number.isFinite(asked) ? asked : 0);
}

/** The producer side: enqueue idempotently and fairly, read positions and states. */
export class GenerationQueue {
  readonly queue: Queue<GenerationJobData>;
  readonly records: JobRecords;
  private readonly fair: FairShare;
  private readonly order: QueueOrder;
  private readonly opts: Required<GenerationQueueOptions>;

  constructor(connection: Redis, options: GenerationQueueOptions) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.opts = {
      attempts: 4,
      backoffMs: 5_000,
      recordTtlSeconds: 30 * 24 * 3600,
      keepFinishedSeconds: 7 * 24 * 3600,
      ...(defined as GenerationQueueOptions),
    };
    this.queue = new Queue<GenerationJobData>(GENERATE_QUEUE, { connection, prefix: this.opts.prefix });
    this.records = new JobRecords(connection, this.opts.prefix, this.opts.recordTtlSeconds);
    this.fair = new FairShare(connection, this.opts.prefix);
    this.order = new QueueOrder(connection, this.queue);
  }

  /**
   * Adds a job under a caller-chosen id derived from the chat event (e.g. `dc-<interactionId>`), so
   * the same event delivered twice enqueues once. The job takes its person's next fair turn (see
   * fair-share.ts); safe under concurrent requests of the same person, no outside lock needed.
   */
  async enqueue(
    jobId: string,
    data: GenerationJobData,
    options: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    if (!BULLMQ_ID.test(jobId) || /^\d+$/.test(jobId)) {
      throw new Error(`job id "${jobId}" must use letters, digits, _ . - only and not be all digits`);
    }
    const record = this.records.write(jobId, {
      request: data.request,
      requester: data.requester,
      reportTo: data.reportTo,
      deliverVia: data.deliverVia,
      parentJobId: data.parentJobId,
      ...(data.parentKind ? { parentKind: data.parentKind } : {}),
      ...(data.extension ? { extension: data.extension } : {}),
      ...(data.group ? { group: data.group } : {}),
    });
    const keep = { age: this.opts.keepFinishedSeconds, count: 5_000 };
    const fairShare = { person: options.person ?? personOf(data.requester), band: options.band ?? 'normal' };
    // One round trip: the duplicate check, the record and the turn (see FairShare.reserve).
    const priority = await this.fair.reserve(jobId, fairShare, record);
    if (priority === undefined) return { jobId, duplicate: true };
    try {
      await this.queue.add(
        'generate',
        { ...data, fairShare },
        {
          jobId,
          priority,
          attempts: this.opts.attempts,
          backoff: { type: RETRY_BACKOFF, delay: this.opts.backoffMs },
          removeOnComplete: keep,
          removeOnFail: keep,
        },
      );
    } finally {
      this.fair.added(jobId);
    }
    return { jobId, duplicate: false };
  }

  /**
   * Removes a job that is waiting (a cancel; throws when a worker holds it) and moves its person's
   * later jobs up into the turn it leaves free.
   */
  async removeWaiting(job: Job<GenerationJobData>): Promise<void> {
    await job.remove();
    if (!job.data.fairShare) return;
    for (const { jobId, priority } of await this.fair.removed(job, job.data.fairShare)) {
      // Taken by a worker meanwhile: it runs now, its priority no longer matters.
      await (await this.queue.getJob(jobId))?.changePriority({ priority }).catch(() => undefined);
    }
  }

  /** A job waiting for its turn is `waiting`, whichever of BullMQ's structures holds it. */
  async state(jobId: string): Promise<JobState> {
    const state = await this.queue.getJobState(jobId);
    if (state === 'prioritized') return 'waiting';
    return (['waiting', 'active', 'delayed', 'completed', 'failed'] as const).includes(state as never)
      ? (state as JobState)
      : 'unknown';
  }

  /** Place in the order workers will take the job (see QueueOrder); undefined when not waiting. */
  position(jobId: string): Promise<QueuePosition | undefined> {
    return this.order.position(jobId);
  }

  positions(): Promise<Map<string, QueuePosition>> {
    return this.order.positions();
  }

  async progress(jobId: string): Promise<JobProgress | undefined> {
    const job = await this.queue.getJob(jobId);
    const progress = job?.progress;
    return progress && typeof progress === 'object' ? (progress as unknown as JobProgress) : undefined;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
