import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { TransientError, UserFacingError } from '../core/errors.js';
import type { GenerationJobData, ReportTarget, Requester } from '../core/job.js';
import {
  finaliseRequest,
  type GenerationRequest,
  type GenerationSettings,
  type ModelId,
  resolveSeed,
} from '../core/request.js';
import type { Logger } from '../log.js';
import type { CancelRequest, CancelResult } from '../queue/cancel.js';
import { deliveryQueueName } from '../queue/connection.js';
import type { GenerationQueue } from '../queue/generation-queue.js';
import type { JobRecord } from '../queue/records.js';
import type { BackendStatus } from '../queue/worker-health.js';
import type { BlobStore } from '../storage/blobs.js';
import type { InputStore } from '../storage/inputs.js';
import { type Check, evaluate, type Origin, STAGES, type Stage, standardChecks } from './checks.js';
import { type ImageSource, InputImages } from './input-images.js';
import { type FeedOptions, PlatformFeed, type StatusSink } from './platform-feed.js';
import { type Refusal, RefusedError } from './refusals.js';
import { UserJobs } from './user-jobs.js';

/** What the service is given by the entry point that wires it (main.ts, or a test). */
export interface ServiceDeps {
  redis: Redis;
  prefix: string;
  queue: GenerationQueue;
  inputs: InputStore;
  results: BlobStore;
  cancel(request: CancelRequest): Promise<CancelResult>;
  backendStatus(): Promise<BackendStatus>;
  log: Logger;
}

export interface ServiceLimits {
  maxRunningPerUser: number;
  maxWaitingPerUser: number;
}

export interface ServiceSettings {
  defaultModel: ModelId;
  limits: ServiceLimits;
  maxInputBytes: number;
  /** Rules beyond the standard ones (checks.ts), evaluated with them. */
  extraChecks?: Check[];
}

export interface SubmitInput {
  /** Derived from the chat event, so a redelivered event or a double click enqueues once. */
  jobId: string;
  settings: GenerationSettings;
  images: { input_image: ImageSource; end_frame?: ImageSource };
  origin: Origin;
  reportTo: ReportTarget;
  notes?: string[];
}

export interface RerunInput {
  /** From the click or reaction, so two deliveries of it start one job. */
  jobId: string;
  origin: Origin;
  reportTo: ReportTarget;
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

export type QueuePosition = { position: number; of: number };

/** Deletes a lock only if it is still ours (it may have expired and been taken by another request). */
const RELEASE_LOCK =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
/** Long enough for the checks, an image download (30 s at most) and the enqueue. */
const USER_LOCK_MS = 60_000;

/**
 * The platforms' only door: everything about a job except parsing, drawing and sending. Submit
 * (checks, store the image, enqueue), rerun, cancel, withdraw, the queue position, the stored
 * result, and the bot-side feed of progress and outcomes. Platforms render what it answers.
 */
export class GenerationService {
  private readonly userJobs: UserJobs;
  private readonly images: InputImages;
  private readonly checks: Check[];

  constructor(
    private readonly deps: ServiceDeps,
    private readonly settings: ServiceSettings,
  ) {
    this.userJobs = new UserJobs(deps.redis, deps.prefix, deps.queue);
    this.images = new InputImages(deps.inputs, settings.maxInputBytes);
    this.checks = [
      ...standardChecks({
        load: (requester) => this.userJobs.load(this.scope(requester)),
        limits: settings.limits,
        backendStatus: () => deps.backendStatus(),
      }),
      ...(settings.extraChecks ?? []),
    ];
  }

  private scope(requester: Requester) {
    return `${requester.platform}:${requester.scopeId ?? 'global'}:${requester.userId}`;
  }

  /**
   * The first refusal of the checks up to `upTo`, for a platform that answers before a request
   * exists (a form about to open, a form being validated). Submit and rerun check everything again.
   */
  async refusal(origin: Origin, upTo: Stage = 'access'): Promise<Refusal | undefined> {
    return (await evaluate(this.checks, origin, STAGES.slice(0, STAGES.indexOf(upTo) + 1))).refusal;
  }

  /** What is wrong with an image by what its platform declared, without downloading it (pure). */
  declaredImageProblem(source: ImageSource, label = 'image'): string | undefined {
    return this.images.declaredProblem(source, label);
  }

  /** Throws the refusal of the stages, or returns their notices. */
  private async admit(origin: Origin, stages: readonly Stage[]): Promise<string[]> {
    const { refusal, notices } = await evaluate(this.checks, origin, stages);
    if (refusal) throw new RefusedError(refusal);
    return notices;
  }

  /**
   * Runs the checks and the enqueue for one person at a time, so concurrent requests (or a burst
   * of reactions) cannot all pass the caps before any of them is counted.
   */
  private async underUserLock<T>(requester: Requester, work: () => Promise<T>): Promise<T> {
    const { redis } = this.deps;
    const key = `${this.deps.prefix}:user-lock:${this.scope(requester)}`;
    const token = randomUUID();
    const giveUpAt = Date.now() + USER_LOCK_MS;
    while ((await redis.set(key, token, 'PX', USER_LOCK_MS, 'NX')) !== 'OK') {
      if (Date.now() > giveUpAt) throw new TransientError('too many requests at once; please try again');
      await sleep(25);
    }
    try {
      return await work();
    } finally {
      await redis.eval(RELEASE_LOCK, 1, key, token).catch(() => undefined);
    }
  }

  private async existing(jobId: string): Promise<Submitted | undefined> {
    const job = await this.deps.queue.queue.getJob(jobId);
    return job ? { jobId, duplicate: true, request: job.data.request } : undefined;
  }

  /** Checks every rule once, copies the images to storage, and enqueues. */
  async submit(input: SubmitInput): Promise<Submitted> {
    await this.admit(input.origin, ['access']);
    const existing = await this.existing(input.jobId);
    if (existing) return existing;
    return this.underUserLock(input.origin.requester, async () => {
      const notices = await this.admit(input.origin, ['capacity', 'service']);
      const input_image = await this.images.store(input.images.input_image, 'image');
      const end_frame = input.images.end_frame
        ? await this.images.store(input.images.end_frame, 'end frame')
        : undefined;
      const request = finaliseRequest(input.settings, { input_image, end_frame }, this.settings.defaultModel);
      return this.enqueue(
        input.jobId,
        input.origin,
        { request, reportTo: input.reportTo, notes: input.notes },
        notices,
      );
    });
  }

  private async enqueue(
    jobId: string,
    origin: Origin,
    job: { request: GenerationRequest; reportTo: ReportTarget; parentJobId?: string; notes?: string[] },
    notices: string[],
  ): Promise<Submitted> {
    const data: GenerationJobData = {
      request: job.request,
      requester: origin.requester,
      reportTo: job.reportTo,
      deliverVia: deliveryQueueName(origin.requester.platform),
      ...(job.parentJobId ? { parentJobId: job.parentJobId } : {}),
      createdAt: Date.now(),
      notes: job.notes ?? [],
    };
    const result = await this.deps.queue.enqueue(jobId, data);
    if (!result.duplicate) await this.userJobs.add(this.scope(origin.requester), jobId);
    return { jobId, duplicate: result.duplicate, request: data.request, notice: notices[0] };
  }

  async record(jobId: string): Promise<JobRecord | undefined> {
    return this.deps.queue.records.get(jobId);
  }

  /**
   * Same image, prompt and settings, a new seed; the parent is linked. `jobId` comes from the
   * click or reaction, so two deliveries of it start one job.
   */
  async rerun(parentJobId: string, input: RerunInput): Promise<Submitted> {
    await this.admit(input.origin, ['access']);
    const parent = await this.record(parentJobId);
    if (!parent) {
      throw new UserFacingError(
        'that video is too old to rerun (its settings have expired); start a new /animate',
      );
    }
    const existing = await this.existing(input.jobId);
    if (existing) return existing;
    const { redis, prefix } = this.deps;
    // A double click or a reaction added twice within a few seconds is one rerun.
    const lock = `${prefix}:rerun-lock:${parentJobId}:${input.origin.requester.userId}`;
    if ((await redis.set(lock, input.jobId, 'EX', 10, 'NX')) !== 'OK') {
      const holder = (await redis.get(lock)) ?? input.jobId;
      return { jobId: holder, duplicate: true, request: parent.request };
    }
    try {
      return await this.underUserLock(input.origin.requester, async () => {
        const notices = await this.admit(input.origin, ['capacity', 'service']);
        const request: GenerationRequest = { ...parent.request, seed: resolveSeed(undefined) };
        return this.enqueue(
          input.jobId,
          input.origin,
          { request, reportTo: input.reportTo, parentJobId },
          notices,
        );
      });
    } catch (error) {
      // Refused (caps, backend down): the next click must be able to try again.
      await redis.del(lock);
      throw error;
    }
  }

  /** Only the requester or a moderator may cancel. */
  async cancel(jobId: string, actor: Actor): Promise<CancelResult> {
    const record = await this.record(jobId);
    if (!record) return 'unknown';
    if (record.requester.userId !== actor.userId && !actor.canModerate) {
      throw new RefusedError({ reason: 'not-owner' });
    }
    return this.deps.cancel({ jobId, by: actor.displayName ?? actor.userId });
  }

  /** Takes back a job nobody can follow (its status message could not be posted). */
  async withdraw(jobId: string): Promise<void> {
    await this.deps.cancel({ jobId, by: 'Kinema' });
  }

  /** 1-based place among waiting jobs; undefined once it left the line. */
  position(jobId: string): Promise<QueuePosition | undefined> {
    return this.deps.queue.position(jobId);
  }

  /** The finished video, streamed from storage; undefined once it expired. */
  openResult(videoKey: string) {
    return this.deps.results.open(videoKey);
  }

  /** The bot-side feed of one platform: status edits through `sink`, outcomes to its deliverer. */
  feed(platform: string, sink: StatusSink, options: FeedOptions): PlatformFeed {
    return new PlatformFeed(this.deps, platform, sink, options);
  }
}
