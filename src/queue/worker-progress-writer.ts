import type { JobProgress } from '../core/job.js';

/**
 * The worker side of a job's progress. The path, end to end:
 *
 *   worker (backend progress) → WorkerProgressWriter → job progress in Redis (BullMQ `job.progress`
 *   and its `progress` event) → BotStatusTracker in the bot process → the platform's status sink
 *
 * This is the one throttle on that path: at most one write per interval per job unless the phase
 * changes, nothing written when nothing a person would see changed, the latest value always lands
 * (a trailing write), and the percent never goes back within a phase. Backends may report as often
 * as they like.
 */

/** The slice of a BullMQ job the writer needs (a fake in unit tests). */
export interface ProgressTarget {
  readonly data: { remote?: { taskId?: string } };
  updateProgress(progress: object): Promise<void>;
}

export type ProgressUpdate = Omit<JobProgress, 'updatedAt'>;

/** What a status message would show of a progress value; the ETA counts in whole seconds, as shown. */
function visible(progress: JobProgress): string {
  return JSON.stringify([
    progress.phase,
    progress.percent,
    progress.detail,
    progress.etaAt === undefined ? undefined : Math.round(progress.etaAt / 1000),
    progress.backendQueuePosition,
    progress.taskId,
  ]);
}

export class WorkerProgressWriter {
  private latest?: JobProgress;
  private written?: string;
  private lastWriteAt = 0;
  private trailing?: NodeJS.Timeout;

  constructor(
    private readonly job: ProgressTarget,
    private readonly intervalMs: number,
  ) {}

  /** `force` writes at once (a phase the worker itself enters), still never a repeat of the last write. */
  async write(update: ProgressUpdate, force = false): Promise<void> {
    const previous = this.latest;
    const samePhase = previous?.phase === update.phase;
    const percent =
      update.percent === undefined
        ? samePhase
          ? previous?.percent
          : undefined
        : Math.max(update.percent, samePhase ? (previous?.percent ?? 0) : 0);
    const next: JobProgress = {
      ...update,
      percent,
      taskId: update.taskId ?? previous?.taskId ?? this.job.data.remote?.taskId,
      updatedAt: Date.now(),
    };
    this.latest = next;
    clearTimeout(this.trailing);
    if (visible(next) === this.written) return;
    const sinceWrite = Date.now() - this.lastWriteAt;
    if (!force && samePhase && sinceWrite < this.intervalMs) {
      this.trailing = setTimeout(() => void this.flush(next), this.intervalMs - sinceWrite);
      this.trailing.unref();
      return;
    }
    await this.flush(next);
  }

  private async flush(progress: JobProgress): Promise<void> {
    if (progress !== this.latest) return;
    this.lastWriteAt = Date.now();
    this.written = visible(progress);
    await this.job.updateProgress(progress).catch(() => undefined);
  }

  stop(): void {
    clearTimeout(this.trailing);
  }
}
