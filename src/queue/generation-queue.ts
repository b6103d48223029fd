import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { GenerationJobData, JobProgress } from '../core/job.js';
import { GENERATE_QUEUE } from './connection.js';
import { JobRecords } from './records.js';

export interface GenerationQueueOptions {
  prefix: string;
  attempts?: number;
  backoffMs?: number;
  recordTtlSeconds?: number;
  /** How long finished jobs stay inspectable (and their ids de-duplicate). */
  keepFinishedSeconds?: number;
}

export type JobState = 'waiting' | 'active' | 'delayed' | 'prioritized' | 'completed' | 'failed' | 'unknown';

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

/** The producer side: enqueue idempotently, read positions and states. */
export class GenerationQueue {
  readonly queue: Queue<GenerationJobData>;
  readonly records: JobRecords;
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
  }

  /**
   * Adds a job under a caller-chosen id derived from the chat event (e.g. `dc-<interactionId>`), so
   * the same event delivered twice enqueues once.
   */
  async enqueue(jobId: string, data: GenerationJobData): Promise<EnqueueResult> {
    if (!BULLMQ_ID.test(jobId) || /^\d+$/.test(jobId)) {
      throw new Error(`job id "${jobId}" must use letters, digits, _ . - only and not be all digits`);
    }
    const existing = await this.queue.getJob(jobId);
    if (existing) return { jobId, duplicate: true };
    await this.records.save(jobId, {
      request: data.request,
      requester: data.requester,
      reportTo: data.reportTo,
      deliverVia: data.deliverVia,
      parentJobId: data.parentJobId,
    });
    const keep = { age: this.opts.keepFinishedSeconds, count: 5_000 };
    await this.queue.add('generate', data, {
      jobId,
      attempts: this.opts.attempts,
      backoff: { type: RETRY_BACKOFF, delay: this.opts.backoffMs },
      removeOnComplete: keep,
      removeOnFail: keep,
    });
    return { jobId, duplicate: false };
  }

  async state(jobId: string): Promise<JobState> {
    const state = await this.queue.getJobState(jobId);
    return (['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const).includes(
      state as never,
    )
      ? (state as JobState)
      : 'unknown';
  }

  /** 1-based place among waiting jobs (BullMQ has no position API; O(n) over the wait list). */
  async position(jobId: string): Promise<{ position: number; of: number } | undefined> {
    const waiting = await this.queue.getWaiting(0, -1);
    const index = waiting.findIndex((job) => job.id === jobId);
    return index === -1 ? undefined : { position: index + 1, of: waiting.length };
  }

  async positions(): Promise<Map<string, { position: number; of: number }>> {
    const waiting = await this.queue.getWaiting(0, -1);
    return new Map(waiting.map((job, index) => [job.id!, { position: index + 1, of: waiting.length }]));
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
