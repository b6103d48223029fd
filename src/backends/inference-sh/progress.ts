import { effectiveShape, MODEL_PROFILES, type ModelProfile, resolutionOf } from '../../core/models.js';
import type { GenerationRequest } from '../../core/request.js';
import type { BackendProgress } from '../backend.js';
import { percentFromElapsed } from '../durations.js';
import { appName } from './apps.js';
import {
  activeSinceFromEvents,
  describeStatus,
  isActive,
  type StatusName,
  type StatusReader,
  type Task,
} from './task.js';

/**
 * How far an inference.sh task is (shared/specs/inference-sh-api.md §8): a band per status, time
 * against the run time expected for the request's shape (learned from past runs, else a formula),
 * and the sampler's step counter when the app prints one.
 */

/** The Redis key of the run-time history for a request's shape on an app. */
export function durationKey(request: GenerationRequest, app: string): string {
  const profile = MODEL_PROFILES[request.model];
  const shape = effectiveShape(request, profile);
  return `inference:${appName(app)}:${resolutionOf(shape.size)}:${shape.numFrames}f:${shape.steps}s`;
}

/** Run-time estimate before any history exists: base + perStep · steps · frames/81 (×2.25 at 720p). */
export function fallbackDurationMs(
  request: GenerationRequest,
  profile: ModelProfile,
  rate: { baseMs: number; perStepMs: number },
): number {
  const shape = effectiveShape(request, profile);
  const area = resolutionOf(shape.size) === '720p' ? 2.25 : 1;
  return Math.round(rate.baseMs + rate.perStepMs * shape.steps * (shape.numFrames / 81) * area);
}

/** Progress bands per phase; within `running`, time against the estimate (or printed steps) moves it. */
const FLOOR: Record<string, number> = {
  'waiting for a GPU': 1,
  starting: 5,
  'loading the model': 10,
  generating: 15,
  finishing: 95,
};

/** A step counter in an app's log: `step 12/30`, `denoising 3/4`, or a tqdm bar `12/30 [00:41<…]`. */
const STEP_PATTERN = /(?:step|steps|denois\w*|sampling)\D{0,12}?(\d+)\s*\/\s*(\d+)|(\d+)\s*\/\s*(\d+)\s*\[/i;

/**
 * Logs whose counters may be sampler steps: task (4) and run (1). Build (0), serve (2) and setup (3)
 * print other counters ("Loading checkpoint shards 3/3") that say nothing about generation.
 */
const STEP_LOG_TYPES = new Set([4, 1]);

/** The percentage and status text of a task, from its status, its events and its logs (§8). */
export class ProgressEstimate {
  private percent = 0;
  private status: StatusName = 'received';
  activeSince: number | undefined;
  /** True when activeSince is the real start (from events or seen live), good enough to learn from. */
  reliable = false;
  private step: { n: number; of: number } | undefined;

  /**
   * @param steps the sampler steps the run uses (the request's, else the profile default): a counter
   * in the logs counts as progress only when its denominator is exactly this.
   */
  constructor(
    private readonly expectedMs: number,
    private readonly reader: StatusReader,
    private readonly steps: number,
  ) {}

  observe(status: StatusName | undefined, task: Task, now: number) {
    if (status && status !== 'unknown') this.status = status;
    if (this.activeSince === undefined) {
      const fromEvents = activeSinceFromEvents(task, this.reader);
      if (fromEvents !== undefined) {
        this.activeSince = Math.min(fromEvents, now);
        this.reliable = true;
      } else if (status && isActive(status)) {
        this.activeSince = now;
        this.reliable = status === 'dispatched' || status === 'preparing';
      }
    }
    const logs = Array.isArray(task.logs) ? task.logs : [];
    for (let i = logs.length - 1; i >= 0; i -= 1) {
      const entry = logs[i];
      if (!entry || !STEP_LOG_TYPES.has(Number(entry.log_type))) continue;
      const match = STEP_PATTERN.exec(String(entry.content ?? ''));
      const n = Number(match?.[1] ?? match?.[3]);
      const of = Number(match?.[2] ?? match?.[4]);
      if (match && of > 0 && of === this.steps && n <= of) {
        // Only ever forward: an older line seen again (a full log list) does not move it back.
        if (!this.step || n > this.step.n) this.step = { n, of };
        break;
      }
    }
  }

  /**
   * The progress to show now. It may repeat the last one: the worker's WorkerProgressWriter
   * (src/queue/worker-progress-writer.ts) writes nothing a person would not see change.
   */
  next(now: number): BackendProgress {
    const { phase, detail: base } = describeStatus(this.status);
    let detail = base;
    let percent = Math.max(this.percent, FLOOR[base] ?? 0);
    let etaAt: number | undefined;
    if (this.activeSince !== undefined && phase === 'running') {
      percent = Math.max(percent, percentFromElapsed(now - this.activeSince, this.expectedMs, 5, 99));
      const planned = this.activeSince + this.expectedMs;
      etaAt = planned > now + 2_000 ? planned : now + Math.max(5_000, this.expectedMs * 0.1);
    }
    if (this.status === 'running' && this.step) {
      detail = `generating (step ${this.step.n}/${this.step.of})`;
      percent = Math.max(percent, Math.floor(15 + (80 * this.step.n) / this.step.of));
    }
    this.percent = Math.min(99, percent);
    return { phase, percent: this.percent, detail, ...(etaAt ? { etaAt } : {}) };
  }
}
