import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransientError, UserFacingError } from '../core/errors.js';
import type { GenerationJobData, ReportTarget, Requester } from '../core/job.js';
import { MODEL_PROFILES } from '../core/models.js';
import {
  finaliseRequest,
  type GenerationRequest,
  type GenerationSettings,
  type ModelId,
  resolveSeed,
  type StoredImage,
} from '../core/request.js';
import type { Pipeline } from '../pipeline.js';
import type { CancelResult } from '../queue/cancel.js';
import type { JobRecord } from '../queue/records.js';
import { backendStatus } from '../queue/worker-health.js';
import { UserJobs } from './user-jobs.js';

export interface ServiceLimits {
  maxRunningPerUser: number;
  maxWaitingPerUser: number;
}

export interface SubmitInput {
  /** Derived from the chat event, so a redelivered event or a double click enqueues once. */
  jobId: string;
  settings: GenerationSettings;
  images: { input_image: StoredImage; end_frame?: StoredImage };
  requester: Requester;
  reportTo: ReportTarget;
  deliverVia: string;
  notes?: string[];
}

export interface Submitted {
  jobId: string;
  duplicate: boolean;
  request: GenerationRequest;
  /** Something the user should know, e.g. that no worker is online yet. */
  notice?: string;
}

export interface Actor {
  userId: string;
  displayName?: string;
  /** Manage Messages on Discord, an admin on Slack: may cancel anyone's job. */
  canModerate: boolean;
}

/** Deletes a lock only if it is still ours (it may have expired and been taken by another request). */
const RELEASE_LOCK =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

/** Thrown when a user is over their cap; the message says where their jobs stand. */
export class OverLimitError extends UserFacingError {}

/**
 * What every chat surface does with jobs: submit under the caps, rerun with a new seed, cancel
 * with the owner check. Platform adapters call this and only render its answers.
 */
export class GenerationService {
  readonly userJobs: UserJobs;

  constructor(
    readonly pipeline: Pipeline,
    private readonly defaultModel: ModelId,
    private readonly limits: ServiceLimits,
  ) {
    this.userJobs = new UserJobs(pipeline.connection, pipeline.options.prefix, pipeline.queue);
  }

  private scope(requester: Requester) {
    return `${requester.platform}:${requester.scopeId ?? 'global'}:${requester.userId}`;
  }

  /**
   * Runs the caps check and the enqueue for one person at a time, so concurrent requests (or a
   * burst of reactions) cannot all pass the check before any of them is counted.
   */
  private async underUserLock<T>(requester: Requester, work: () => Promise<T>): Promise<T> {
    const redis = this.pipeline.connection;
    const key = `${this.pipeline.options.prefix}:user-lock:${this.scope(requester)}`;
    const token = randomUUID();
    for (let attempt = 0; (await redis.set(key, token, 'PX', 15_000, 'NX')) !== 'OK'; attempt += 1) {
      if (attempt >= 200) throw new TransientError('too many requests at once; please try again');
      await sleep(25);
    }
    try {
      return await work();
    } finally {
      await redis.eval(RELEASE_LOCK, 1, key, token).catch(() => undefined);
    }
  }

  async checkLimits(requester: Requester): Promise<void> {
    const load = await this.userJobs.load(this.scope(requester));
    const { maxRunningPerUser, maxWaitingPerUser } = this.limits;
    const inFlight = load.running + load.waiting;
    // BullMQ cannot hold back one user's jobs (groups are Pro), so the caps are checked here, at
    // enqueue, on everything the person has in flight.
    if (inFlight >= maxRunningPerUser + maxWaitingPerUser) {
      throw new OverLimitError(
        `you already have ${load.running} video${load.running === 1 ? '' : 's'} rendering and ${load.waiting} waiting ` +
          `(at most ${maxRunningPerUser} rendering and ${maxWaitingPerUser} waiting per person). ` +
          'Wait for one to finish, or cancel one with ❌.',
      );
    }
  }

  /**
   * Refuses when every worker says its backend is down (a job would only wait); warns when no worker
   * is online at all (it may just be restarting, so the job is queued).
   */
  async checkBackend(): Promise<string | undefined> {
    const status = await backendStatus(this.pipeline.connection, this.pipeline.options.prefix);
    if (status.online > 0 && status.healthy === 0) {
      throw new UserFacingError(
        `the video backend is down right now (${status.problems.join('; ') || 'no details'}); nothing was queued, please try again later`,
      );
    }
    return status.online === 0
      ? 'No render worker is online right now; your video will start as soon as one is back.'
      : undefined;
  }

  async submit(input: SubmitInput): Promise<Submitted> {
    const existing = await this.pipeline.queue.queue.getJob(input.jobId);
    if (existing) return { jobId: input.jobId, duplicate: true, request: existing.data.request };
    return this.underUserLock(input.requester, async () => {
      await this.checkLimits(input.requester);
      const notice = await this.checkBackend();
      const request = finaliseRequest(input.settings, input.images, this.defaultModel);
      const submitted = await this.enqueue(input.jobId, {
        request,
        requester: input.requester,
        reportTo: input.reportTo,
        deliverVia: input.deliverVia,
        createdAt: Date.now(),
        notes: input.notes ?? [],
      });
      return { ...submitted, notice };
    });
  }

  private async enqueue(jobId: string, data: GenerationJobData): Promise<Submitted> {
    const result = await this.pipeline.queue.enqueue(jobId, data);
    if (!result.duplicate) await this.userJobs.add(this.scope(data.requester), jobId);
    return { jobId, duplicate: result.duplicate, request: data.request };
  }

  async record(jobId: string): Promise<JobRecord | undefined> {
    return this.pipeline.queue.records.get(jobId);
  }

  /**
   * Same image, prompt and settings, a new seed; the parent is linked. `jobId` comes from the
   * click or reaction, so two deliveries of it start one job.
   */
  async rerun(
    parentJobId: string,
    input: { jobId: string; requester: Requester; reportTo: ReportTarget; deliverVia: string },
  ): Promise<Submitted> {
    const parent = await this.record(parentJobId);
    if (!parent) {
      throw new UserFacingError(
        'that video is too old to rerun (its settings have expired); start a new /animate',
      );
    }
    const existing = await this.pipeline.queue.queue.getJob(input.jobId);
    if (existing) return { jobId: input.jobId, duplicate: true, request: existing.data.request };
    // A double click or a reaction added twice within a few seconds is one rerun.
    const lock = `${this.pipeline.options.prefix}:rerun-lock:${parentJobId}:${input.requester.userId}`;
    if ((await this.pipeline.connection.set(lock, input.jobId, 'EX', 10, 'NX')) !== 'OK') {
      const holder = (await this.pipeline.connection.get(lock)) ?? input.jobId;
      return { jobId: holder, duplicate: true, request: parent.request };
    }
    try {
      return await this.underUserLock(input.requester, async () => {
        await this.checkLimits(input.requester);
        const notice = await this.checkBackend();
        const request: GenerationRequest = { ...parent.request, seed: resolveSeed(undefined) };
        const submitted = await this.enqueue(input.jobId, {
          request,
          requester: input.requester,
          reportTo: input.reportTo,
          deliverVia: input.deliverVia,
          parentJobId,
          createdAt: Date.now(),
          notes: [],
        });
        return { ...submitted, notice };
      });
    } catch (error) {
      // Refused (caps, backend down): the next click must be able to try again.
      await this.pipeline.connection.del(lock);
      throw error;
    }
  }

  /** Only the requester or a moderator may cancel. */
  async cancel(jobId: string, actor: Actor): Promise<CancelResult> {
    const record = await this.record(jobId);
    if (!record) return 'unknown';
    if (record.requester.userId !== actor.userId && !actor.canModerate) {
      throw new UserFacingError('only the person who asked for this video (or a moderator) can cancel it');
    }
    return this.pipeline.cancel({ jobId, by: actor.displayName ?? actor.userId });
  }

  modelLabel(model: ModelId): string {
    return MODEL_PROFILES[model].label;
  }
}
