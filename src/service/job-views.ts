import type { HoldReason, JobPlace, JobProgress, Phase } from '../core/job.js';
import type { ModelId } from '../core/request.js';
import type { QueuePosition } from '../queue/queue-order.js';
import type { InFlightJob } from './user-jobs.js';

/** One job in flight, as `/kinema jobs` and `/kinema-admin queue` show it. */
export interface JobView {
  jobId: string;
  state: 'waiting' | 'rendering';
  /** Waiting in line: the place in the order workers will take jobs. */
  position?: QueuePosition;
  /** Waiting, put back by a worker: its person's other videos render, or its server is paused. */
  held?: HoldReason;
  /** Over quota, in the relax band (QUOTA_OVERFLOW=relax). */
  relaxed: boolean;
  /** Rendering: how far it is. */
  phase?: Phase;
  percent?: number;
  /** Rendering: when it is expected (epoch ms). */
  etaAt?: number;
  requester: { platform: string; userId: string; displayName?: string };
  prompt: string;
  model: ModelId;
  place: JobPlace;
  /** Epoch ms. */
  createdAt: number;
}

/** Waiting jobs in the order they will start: by position, then those without one (held, backing off). */
function startOrder(a: JobView, b: JobView): number {
  const pa = a.position?.position ?? Number.POSITIVE_INFINITY;
  const pb = b.position?.position ?? Number.POSITIVE_INFINITY;
  return pa === pb ? a.createdAt - b.createdAt : pa - pb;
}

export function jobViews(jobs: readonly InFlightJob[], positions: ReadonlyMap<string, QueuePosition>) {
  const views = jobs.map(({ jobId, state, job, place }): JobView => {
    const { data } = job;
    const progress =
      state === 'rendering' && job.progress && typeof job.progress === 'object'
        ? (job.progress as unknown as JobProgress)
        : undefined;
    const position = positions.get(jobId);
    return {
      jobId,
      state,
      ...(position ? { position } : {}),
      ...(state === 'waiting' && data.held ? { held: data.held } : {}),
      relaxed: data.fairShare?.band === 'relax',
      ...(progress ? { phase: progress.phase, percent: progress.percent, etaAt: progress.etaAt } : {}),
      requester: {
        platform: data.requester.platform,
        userId: data.requester.userId,
        ...(data.requester.displayName ? { displayName: data.requester.displayName } : {}),
      },
      prompt: data.request.prompt,
      model: data.request.model,
      place,
      createdAt: data.createdAt,
    };
  });
  return {
    rendering: views.filter((view) => view.state === 'rendering'),
    waiting: views.filter((view) => view.state === 'waiting').sort(startOrder),
  };
}
