import { tmpdir } from 'node:os';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BackendOutput, VideoBackend } from '../backends/backend.js';
import {
  AmbiguousSubmitError,
  CancelledError,
  ConfigurationError,
  isPermanent,
  TransientError,
} from '../core/errors.js';
import type { GenerationJobData, RemoteTaskRef, VideoResult } from '../core/job.js';
import { renderedRequest } from '../core/request.js';
import { errorKind, telemetry } from '../core/telemetry.js';
import { type Logger, redactText } from '../log.js';
import type { BlobStore } from '../storage/blobs.js';
import type { InputStore } from '../storage/inputs.js';
import type { CancelBroadcast } from './cancel.js';
import { GENERATE_QUEUE } from './connection.js';
import type { Deliveries } from './delivery.js';
import { FairShare } from './fair-share.js';
import { retryDelay } from './generation-queue.js';
import { storeResult, type VideoPreparer } from './result-files.js';
import { RunningJobs } from './running-jobs.js';
import { settlesWithin } from './settle-within.js';
import type { WorkerPolicy } from './worker-policy.js';
import { WorkerProgressWriter } from './worker-progress-writer.js';

export interface GenerationWorkerOptions {
  prefix: string;
  concurrency?: number;
  /**
   * How long a job's lock lasts without a renewal. A worker that dies (even SIGKILLed) loses its
   * jobs at most this long after its last renewal; the next stall check gives them to another worker.
   */
  lockDurationMs?: number;
  /**
   * How often the locks of running jobs are renewed (BullMQ renews on a timer). A quarter of the
   * lock by default, so an event loop held up for most of a lock still renews in time.
   */
  lockRenewMs?: number;
  /** How often BullMQ looks for jobs whose lock expired (one look per interval across all workers). */
  stalledIntervalMs?: number;
  /** A crash counts as a stall; several in a row still re-attach instead of failing the job. */
  maxStalledCount?: number;
  /** Submit again after an interrupted submission (the first may have been billed). */
  resubmitAmbiguous?: boolean;
  /** Least time between two progress writes of one job, unless the phase changes (WorkerProgressWriter). */
  progressIntervalMs?: number;
  /** Active jobs get this long to finish on shutdown, then are handed to another worker. */
  shutdownGraceMs?: number;
  tmpDir?: string;
}

/**
 * Takeover of a dead worker's job within 15 s: its lock lapses at most `lockDurationMs` after the
 * last renewal, and the first stall check after that (at most `stalledIntervalMs` later) puts it
 * back in the queue, where an idle worker takes it at once: 8 + 4 = 12 s at worst.
 */
export const WORKER_TIMING_DEFAULTS = { lockDurationMs: 8_000, stalledIntervalMs: 4_000 } as const;

/** After the grace period, how long handing the active jobs back may take (it needs Redis). */
const HAND_BACK_MS = 2_000;

export interface GenerationWorkerDeps {
  connection: Redis;
  backend: VideoBackend;
  inputs: InputStore;
  results: BlobStore;
  deliveries: Deliveries;
  cancels: CancelBroadcast;
  prepareVideo: VideoPreparer;
  log: Logger;
  /** A community's rules: rendering caps, paused servers, quotas, prices, result moderation. */
  policy?: WorkerPolicy;
}

type AbortReason = { kind: 'cancel'; by?: string } | { kind: 'shutdown' };

const isAbortReason = (value: unknown): value is AbortReason =>
  typeof value === 'object' && value !== null && 'kind' in value;

/**
 * Runs generation jobs: submit (or re-attach), follow, download, prepare, store, hand to delivery.
 * The remote task id is persisted the moment it exists; a job re-run after a crash never pays twice.
 */
export class GenerationWorker {
  readonly worker: Worker<GenerationJobData, VideoResult>;
  private readonly opts: Required<Omit<GenerationWorkerOptions, 'tmpDir'>> & { tmpDir: string };
  private closing?: Promise<void>;
  private readonly running = new RunningJobs();

  constructor(
    private readonly deps: GenerationWorkerDeps,
    options: GenerationWorkerOptions,
  ) {
    const lockDurationMs = options.lockDurationMs ?? WORKER_TIMING_DEFAULTS.lockDurationMs;
    this.opts = {
      concurrency: 2,
      ...WORKER_TIMING_DEFAULTS,
      lockRenewMs: lockDurationMs / 4,
      maxStalledCount: 5,
      resubmitAmbiguous: false,
      progressIntervalMs: 1_000,
      shutdownGraceMs: 25_000,
      tmpDir: tmpdir(),
      ...options,
    };
    this.worker = new Worker<GenerationJobData, VideoResult>(
      GENERATE_QUEUE,
      (job, token, signal) => this.running.run(job.id!, () => this.process(job, token, signal)),
      {
        connection: deps.connection,
        prefix: this.opts.prefix,
        concurrency: this.opts.concurrency,
        lockDuration: this.opts.lockDurationMs,
        lockRenewTime: this.opts.lockRenewMs,
        stalledInterval: this.opts.stalledIntervalMs,
        maxStalledCount: this.opts.maxStalledCount,
        autorun: false,
        settings: {
          backoffStrategy: (attemptsMade, _type, error, job) =>
            retryDelay(
              attemptsMade,
              Number(
                job?.opts.backoff && typeof job.opts.backoff === 'object' ? job.opts.backoff.delay : 5_000,
              ) || 5_000,
              error,
            ),
        },
      },
    );
    this.worker.on('error', (error) => deps.log.error({ err: error }, 'worker error'));
    this.worker.on('failed', (job, error) => {
      if (job) void this.onFailed(job, error);
    });
  }

  async start(): Promise<void> {
    await this.deps.cancels.listen(({ jobId, by }) => {
      this.worker.cancelJob(jobId, { kind: 'cancel', by } satisfies AbortReason as never);
    });
    void this.worker.run();
    await this.worker.waitUntilReady();
  }

  /**
   * Asks the policy first: a job it holds back goes to the delayed set with its fair turn (its
   * priority) intact, before `started` could mark the turn served. The slot is released whatever
   * happens to a job that ran.
   */
  private async process(
    job: Job<GenerationJobData, VideoResult>,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<VideoResult> {
    const { policy } = this.deps;
    if (policy) {
      const admission = await policy.admit(job);
      if (!admission.run) {
        if (job.data.held !== admission.held) await job.updateData({ ...job.data, held: admission.held });
        await job.moveToDelayed(Date.now() + admission.retryInMs, token);
        await policy.parked(job, admission.held);
        throw new DelayedError();
      }
      if (job.data.held) await job.updateData({ ...job.data, held: undefined });
    }
    try {
      return await this.run(job, token, signal);
    } finally {
      await policy
        ?.release(job)
        .catch((error) => this.deps.log.warn({ err: error, jobId: job.id }, 'could not free the slot'));
    }
  }

  private async run(
    job: Job<GenerationJobData, VideoResult>,
    token: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<VideoResult> {
    const jobId = job.id!;
    // Sent now, awaited with the first cancel check below: both in one round trip.
    const turnServed = new FairShare(this.deps.connection, this.opts.prefix).started(job);
    const log = this.deps.log.child({ jobId, attempt: job.attemptsMade + 1 });
    const abort = signal ?? new AbortController().signal;
    const progress = new WorkerProgressWriter(job, this.opts.progressIntervalMs);
    const started = Date.now();
    if (job.attemptsMade === 0 && !job.data.remote) {
      telemetry.jobStarted({ waitSeconds: Math.max(0, started - job.data.createdAt) / 1000 });
    }
    let remote = job.data.remote;
    // What the backend gets: a loop's end frame is its start image (the job keeps the setting).
    const request = renderedRequest(job.data.request);
    const ignored = this.deps.backend
      .describeIgnored(request)
      .filter((note) => !job.data.notes.includes(note));
    const notes = [...job.data.notes, ...ignored];
    // Written into the job so the status message shows what this backend will not apply, before it runs.
    if (ignored.length > 0) await job.updateData({ ...job.data, notes });
    const backendJob = { jobId, request, inputs: this.deps.inputs, log };

    try {
      const [cancelledBy] = await Promise.all([this.deps.cancels.requestedBy(jobId), turnServed]);
      if (cancelledBy) throw new CancelledError(cancelledBy);
      if (remote && remote.backend !== this.deps.backend.name) {
        // Another backend's task id means nothing here; following or resubmitting could pay twice.
        throw new ConfigurationError(
          `this job was started on the ${remote.backend} backend, but this worker runs ${this.deps.backend.name}; run a worker with that BACKEND to finish it, or rerun the job`,
        );
      }

      if (remote?.taskId && remote.state === 'submitted') {
        log.info({ taskId: remote.taskId }, 're-attaching to the remote task');
        await progress.write({ phase: 'running', detail: 'resuming', taskId: remote.taskId }, true);
      } else if (remote?.state === 'submitting' && !remote.taskId && !this.opts.resubmitAmbiguous) {
        throw new AmbiguousSubmitError(
          'the worker stopped while submitting this job, so a paid task may already exist; it was not submitted again. Rerun it if no video arrives.',
        );
      } else if (remote?.state === 'submitting' && remote.taskId) {
        // The backend chose the id before submitting (ComfyUI); following it finds or re-creates it.
        log.info({ taskId: remote.taskId }, 'resuming an interrupted submission by its client-chosen id');
      } else {
        await progress.write({ phase: 'uploading' }, true);
        try {
          remote = await this.deps.backend.submit(
            backendJob,
            {
              persist: async (ref) => {
                remote = ref;
                await job.updateData({ ...job.data, remote: ref });
              },
              progress: (update) => void progress.write(update),
            },
            abort,
          );
        } catch (error) {
          // Any error but an ambiguous one means the backend is sure no task exists: a retry may submit.
          if (!(error instanceof AmbiguousSubmitError) && remote?.state === 'submitting' && !remote.taskId) {
            remote = undefined;
            await job.updateData({ ...job.data, remote: undefined });
          }
          throw error;
        }
        log.info({ taskId: remote.taskId }, 'submitted');
      }
      if (!remote?.taskId) throw new Error('the backend returned no task id');
      // Also when re-attaching: a worker may have died between the submission and its count.
      await this.counted(jobId, job.data);
      const ref: RemoteTaskRef = remote;
      // A cancel that arrived while submitting must still stop the task it created.
      const cancelledWhileSubmitting = await this.deps.cancels.requestedBy(jobId);
      if (cancelledWhileSubmitting) throw new CancelledError(cancelledWhileSubmitting);

      let output: BackendOutput | undefined;
      for await (const event of this.deps.backend.follow(ref, backendJob, abort)) {
        if (event.type === 'progress') await progress.write(event.progress);
        else output = event.output;
      }
      if (!output) throw new TransientError('the backend finished without a video');
      await progress.write({ phase: 'encoding', percent: 99, detail: 'preparing the video' }, true);
      const stored = await storeResult(
        { ...this.deps, tmpDir: this.opts.tmpDir },
        { jobId, data: job.data },
        output,
        abort,
      );
      const cost = this.deps.policy?.cost(job.data);
      if ('withheld' in stored) {
        log.info('the result was withheld by moderation; nothing is posted');
        const { seed } = job.data.request;
        await this.deps.deliveries.send(jobId, job.data, {
          kind: 'withheld',
          notice: stored.withheld,
          seed,
          ...(cost ? { cost } : {}),
        });
        throw new UnrecoverableError('withheld by moderation');
      }
      const { prepared, stillKeys, stills } = stored;
      try {
        const result: VideoResult = {
          videoKey: `result-${jobId}`,
          ...stillKeys,
          bytes: prepared.bytes,
          durationSeconds: prepared.durationSeconds,
          width: prepared.width,
          height: prepared.height,
          seed: job.data.request.seed,
          model: job.data.request.model,
          taskId: ref.taskId,
          renderMs: Date.now() - (ref.submittedAt || started),
          notes,
          ...(cost ? { cost } : {}),
        };
        await progress.write({ phase: 'delivering', percent: 100 }, true);
        telemetry.jobRendered({ renderSeconds: result.renderMs / 1000 });
        await this.deps.deliveries.send(jobId, job.data, { kind: 'succeeded', result });
        // The stills once the video is on its way (readers of their keys wait for them); the job
        // finishes when they are stored, so a worker that dies first leaves them to the next one.
        const { posterKey, lastFrameKey, ...rest } = result;
        return { ...rest, ...(await stills.store(log)) };
      } finally {
        await stills.discard();
      }
    } catch (error) {
      progress.stop();
      await progress.settled();
      // Already reported (a withheld result): nothing to add, nothing to retry.
      if (error instanceof UnrecoverableError) throw error;
      // The service may have billed a task whose submission's outcome is unknown: count it.
      if (error instanceof AmbiguousSubmitError) await this.counted(jobId, job.data);
      const reason = abort.aborted && isAbortReason(abort.reason) ? abort.reason : undefined;
      if (reason?.kind === 'shutdown' && token) {
        // Hand the job back at once; the next worker re-attaches by the stored task id.
        log.info('shutting down: handing the job to another worker');
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      if (reason?.kind === 'cancel' || error instanceof CancelledError) {
        const by = reason?.kind === 'cancel' ? reason.by : (error as CancelledError).by;
        if (remote?.taskId) {
          await this.deps.backend
            .cancel(remote, log)
            .catch((cancelError) => log.warn({ err: cancelError }, 'could not cancel the remote task'));
        }
        await this.deps.deliveries.send(jobId, job.data, { kind: 'cancelled', by });
        throw new UnrecoverableError(`cancelled${by ? ` by ${by}` : ''}`);
      }
      telemetry.backendError({ backend: this.deps.backend.name, kind: errorKind(error) });
      const message = redactText(error instanceof Error ? error.message : String(error));
      if (isPermanent(error)) {
        log.warn({ err: error }, 'job failed');
        await this.deps.deliveries.send(jobId, job.data, { kind: 'failed', message, notes });
        throw new UnrecoverableError(message);
      }
      log.warn({ err: error }, 'attempt failed; it will be retried if attempts remain');
      throw error instanceof Error ? error : new Error(message);
    }
  }

  /** Quotas and spend: bookkeeping that must not fail the job (a missed count only favours the user). */
  private async counted(jobId: string, data: GenerationJobData): Promise<void> {
    await this.deps.policy
      ?.submitted(jobId, data)
      .catch((error) => this.deps.log.warn({ err: error, jobId }, 'could not count the submitted job'));
  }

  /** Transient failures that used up every attempt, and stalls, still reach the chat. */
  private async onFailed(job: Job<GenerationJobData, VideoResult>, error: Error): Promise<void> {
    if (error.name === 'UnrecoverableError' || error instanceof DelayedError) return;
    // 'failed' fires for every attempt; only a job that will not run again is reported.
    if (!(await job.isFailed().catch(() => false))) return;
    const message = redactText(error.message);
    await this.deps.deliveries
      .send(job.id!, job.data, {
        kind: 'failed',
        message: `the backend kept failing (${message}); try again later`,
        notes: job.data.notes,
      })
      .catch((sendError) => this.deps.log.error({ err: sendError }, 'could not report a failed job'));
  }

  /**
   * Stops taking jobs; active ones get the grace period, then go back to the queue for another
   * worker. Bounded even when Redis is unreachable: a job that cannot be handed back stays active in
   * BullMQ, and its remote task runs on (never cancelled); once Redis is back and the job's lock has
   * lapsed, the stall check gives it to another worker, which follows the same task.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = this.worker.close();
      const stopped = this.running.stopped(closed, this.deps.connection);
      if (!(await settlesWithin(stopped, this.opts.shutdownGraceMs))) {
        this.worker.cancelAllJobs({ kind: 'shutdown' } satisfies AbortReason as never);
        if (!(await settlesWithin(this.running.idle(), HAND_BACK_MS))) {
          this.deps.log.warn(
            { jobIds: this.running.ids },
            'could not hand the active jobs back (is Redis reachable?); they are left for another worker, which takes them over once their lock lapses',
          );
        }
      }
      await settlesWithin(Promise.all([closed, this.deps.cancels.close()]), 500);
    })();
    return this.closing;
  }
}
