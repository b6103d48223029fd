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
 *
 * A write is sent, not waited for: the job goes on while it travels (BullMQ sends a job's progress
 * writes on one connection, in the order they were made, and one that fails is only a missed
 * update). Within a phase, an update that comes while the previous write is still on its way waits
 * for it, and only the latest one waiting is sent. `settled` waits for the writes sent so far, before
 * the job's outcome leaves on another connection, so the bot never sees progress after the outcome.
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
  private sent: Promise<void> = Promise.resolve();
  private inFlight = 0;
  /** The latest update of the phase, held while a write is on its way. */
  private queued?: JobProgress;

  constructor(
    private readonly job: ProgressTarget,
    private readonly intervalMs: number,
  ) {}

  /**
   * `force` writes at once (a phase the worker itself enters), still never a repeat of the last
   * write. Returns once the write is sent (see `settled`).
   */
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
    this.queued = undefined;
    if (visible(next) === this.written) return;
    const sinceWrite = Date.now() - this.lastWriteAt;
    if (!force && samePhase && sinceWrite < this.intervalMs) {
      this.trailing = setTimeout(() => this.send(next), this.intervalMs - sinceWrite);
      this.trailing.unref();
      return;
    }
    if (force || !samePhase) this.flush(next);
    else this.send(next);
  }

  /** Writes now, or after the write on its way (see the class comment). */
  private send(progress: JobProgress): void {
    if (this.inFlight > 0) this.queued = progress;
    else this.flush(progress);
  }

  private flush(progress: JobProgress): void {
    if (progress !== this.latest) return;
    this.lastWriteAt = Date.now();
    this.written = visible(progress);
    this.inFlight += 1;
    const write = this.job
      .updateProgress(progress)
      .catch(() => undefined)
      .then(() => {
        this.inFlight -= 1;
        const queued = this.queued;
        this.queued = undefined;
        if (queued) this.send(queued);
      });
    const before = this.sent;
    this.sent = before.then(() => write);
  }

  /** Resolves once every write sent so far, and any it held back, has landed (or failed). */
  async settled(): Promise<void> {
    let sent: Promise<void>;
    do {
      sent = this.sent;
      await sent;
    } while (sent !== this.sent);
  }

  /** No write after this one that is on its way. */
  stop(): void {
    clearTimeout(this.trailing);
    this.queued = undefined;
  }
}
