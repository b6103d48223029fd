import { AmbiguousSubmitError, CancelledError, TransientError, UserFacingError } from '../../core/errors.js';
import type { RemoteTaskRef } from '../../core/job.js';
import { effectiveShape, MODEL_PROFILES } from '../../core/models.js';
import type { Logger } from '../../log.js';
import type { BackendEvent, BackendJob } from '../backend.js';
import type { DurationHistory } from '../durations.js';
import { appRefFor, INFERENCE_APPS } from './apps.js';
import { abortError, type ErrorTranslator } from './errors.js';
import type { InferenceHttp } from './http.js';
import { durationKey, fallbackDurationMs, ProgressEstimate } from './progress.js';
import { type WatchEvent, watchTask } from './stream.js';
import { isTerminal, outputFile, StatusReader } from './task.js';

/**
 * The task loop: follows a started task (new, or re-attached after a restart) to its end, turning
 * what stream.ts sees into progress for the worker and, at the end, the result's location. A run's
 * time is learned for the next estimate of the same shape.
 */

export interface FollowContext {
  http: InferenceHttp;
  durations: DurationHistory;
  errors: ErrorTranslator;
}

export interface FollowSettings {
  /** INFERENCE_APP, possibly pinned as `@version`. */
  configuredApp: string;
  reconnect: { budget: number; baseMs: number; maxMs: number };
  pollIntervalMs: number;
  maxPollErrors: number;
  streamResyncMs: number;
  /** Measured from submission, so re-attaching after a restart or a retry does not extend it. */
  followDeadlineMs: number;
  fallbackDuration: { baseMs: number; perStepMs: number };
}

type Terminal = Extract<WatchEvent, { kind: 'terminal' }>;

export class TaskFollower {
  constructor(
    private readonly context: FollowContext,
    private readonly settings: FollowSettings,
  ) {}

  async *follow(ref: RemoteTaskRef, job: BackendJob, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    const taskId = ref.taskId;
    if (!taskId) {
      throw new AmbiguousSubmitError(
        'an earlier attempt stopped while submitting to inference.sh, so a task may exist and be billed; it was not submitted again',
      );
    }
    const { http, errors } = this.context;
    const { request, log } = job;
    const profile = MODEL_PROFILES[request.model];
    const key = durationKey(request, appRefFor(profile, this.settings.configuredApp));
    const fallback = fallbackDurationMs(request, profile, this.settings.fallbackDuration);
    const estimate = await this.context.durations.estimate(key, fallback).catch((error: unknown) => {
      log.warn({ err: error }, 'reading the duration history failed');
      return { ms: fallback, samples: 0 };
    });
    const progress = new ProgressEstimate(
      estimate.ms,
      new StatusReader(),
      effectiveShape(request, profile).steps,
    );
    const seenLogs = new Set<string>();
    const { followDeadlineMs } = this.settings;
    const followFrom =
      Number.isFinite(ref.submittedAt) && ref.submittedAt > 0
        ? Math.min(ref.submittedAt, Date.now())
        : Date.now();
    try {
      for await (const event of watchTask({
        http,
        taskId,
        signal,
        log,
        reconnectBudget: this.settings.reconnect.budget,
        reconnectBackoff: this.settings.reconnect,
        pollIntervalMs: this.settings.pollIntervalMs,
        maxPollErrors: this.settings.maxPollErrors,
        resyncEveryMs: this.settings.streamResyncMs,
        deadlineAt: followFrom + followDeadlineMs,
        deadlineMs: followDeadlineMs,
      })) {
        if (signal.aborted) throw abortError(signal);
        const now = Date.now();
        if (event.kind === 'terminal') {
          yield await this.finish(
            event,
            { taskId, key, progress, outputField: INFERENCE_APPS[profile.id].outputField, log },
            now,
          );
          return;
        }
        if (event.kind === 'update') {
          progress.observe(event.status, event.task, now);
          for (const entry of Array.isArray(event.task.logs) ? event.task.logs : []) {
            const id = entry.id ?? `${entry.created_at}|${entry.content}`;
            if (seenLogs.has(id)) continue;
            seenLogs.add(id);
            log.debug({ taskId, logType: entry.log_type, content: entry.content }, 'inference.sh task log');
          }
        }
        // A terminal update is followed at once by the terminal event; no progress line in between.
        if (event.kind === 'update' && isTerminal(event.status)) continue;
        yield { type: 'progress', progress: progress.next(now) };
      }
      throw new TransientError(`following inference.sh task ${taskId} ended without a result`);
    } catch (error) {
      if (signal.aborted && !(error instanceof CancelledError)) throw abortError(signal);
      throw errors.translate(error, { taskId });
    }
  }

  /** The task ended: its video's location, or the error that says why there is none. */
  private async finish(
    event: Terminal,
    run: { taskId: string; key: string; progress: ProgressEstimate; outputField: string; log: Logger },
    now: number,
  ): Promise<BackendEvent> {
    const { taskId, progress, log } = run;
    if (event.status === 'cancelled') throw new CancelledError();
    if (event.status === 'failed') {
      throw new UserFacingError(
        `inference.sh could not make the video: ${this.context.http.scrub(event.error ?? 'task failed')}`,
      );
    }
    const file = outputFile(event.task.output, run.outputField);
    if (!file) {
      throw new UserFacingError(
        `inference.sh finished task ${taskId} but its output holds no video file (expected "${run.outputField}")`,
      );
    }
    progress.observe(undefined, event.task, now);
    if (progress.activeSince !== undefined && progress.reliable) {
      await this.context.durations
        .record(run.key, now - progress.activeSince)
        .catch((error: unknown) => log.warn({ err: error }, 'recording the run time failed'));
    }
    log.info(
      { taskId, ms: progress.activeSince ? now - progress.activeSince : undefined },
      'inference.sh task completed',
    );
    return {
      type: 'completed',
      output: {
        location: file.url,
        ...(file.contentType ? { contentType: file.contentType } : {}),
        ...(file.bytes ? { bytes: file.bytes } : {}),
      },
    };
  }
}
