import type { ModelId } from '../core/request.js';
import type { CancelResult } from '../queue/cancel.js';
import type { GenerationQueue } from '../queue/generation-queue.js';
import type { UnavailableModel } from '../queue/model-availability.js';
import type { BackendStatus } from '../queue/worker-health.js';
import type { BlobStore } from '../storage/blobs.js';
import { type AdminActor, type AdminDesk, OPERATOR, type ServerQueue } from './admin-desk.js';
import { jobViews } from './job-views.js';
import type { AuditRecord } from './moderation/index.js';
import type { PauseState } from './pause.js';
import { type InFlightJob, placeOfJob } from './user-jobs.js';

/** One finished (or refused) job as the dashboard lists it, newest first. */
export interface RecentJob {
  jobId: string;
  requester: string;
  serverId?: string;
  prompt: string;
  model: string;
  outcome: AuditRecord['outcome'];
  /** Epoch ms. */
  submittedAt: number;
  /** From the request to its outcome. */
  durationMs?: number;
  cost?: { amount: number; currency: string };
  detail?: string;
}

export interface OperatorView {
  queue: ServerQueue;
  recent: RecentJob[];
  health: BackendStatus & { unavailableModels: { model: ModelId; reason: string }[] };
  paused: PauseState;
}

export interface OperatorDeskDeps {
  admin: AdminDesk;
  queue: GenerationQueue;
  audit: { recent(query: { limit: number }): Promise<AuditRecord[]> };
  results: BlobStore;
  backendStatus(): Promise<BackendStatus>;
  unavailableModels(): Promise<ReadonlyMap<ModelId, UnavailableModel>>;
}

const IN_FLIGHT = ['active', 'waiting', 'prioritized', 'delayed'] as const;

/**
 * The web dashboard's view of the whole bot (the operator holds ADMIN_TOKEN, so acts as a bot owner):
 * every job in flight in the order workers take them, the recent outcomes, worker and backend
 * health. Its actions are the admin commands' own (`AdminDesk.cancel`, `pauseBot`, `resumeBot`).
 */
export class OperatorDesk {
  private readonly actor: AdminActor = OPERATOR;

  constructor(private readonly deps: OperatorDeskDeps) {}

  async view(recentLimit = 20): Promise<OperatorView> {
    const [queue, recent, status, unavailable, paused] = await Promise.all([
      this.queue(),
      this.deps.audit.recent({ limit: recentLimit }),
      this.deps.backendStatus(),
      this.deps.unavailableModels(),
      this.deps.admin.pauseState(this.actor),
    ]);
    return {
      queue,
      recent: recent.map(recentJob),
      health: {
        ...status,
        unavailableModels: [...unavailable].map(([model, gone]) => ({ model, reason: gone.reason })),
      },
      paused,
    };
  }

  private async queue(): Promise<ServerQueue> {
    const [jobs, positions] = await Promise.all([
      this.deps.queue.queue.getJobs([...IN_FLIGHT], 0, 500, true),
      this.deps.queue.positions(),
    ]);
    const inFlight: InFlightJob[] = [];
    for (const job of jobs) {
      if (!job?.id) continue;
      const state = await job.getState();
      inFlight.push({
        jobId: job.id,
        state: state === 'active' ? 'rendering' : 'waiting',
        job,
        place: placeOfJob(job.data),
      });
    }
    inFlight.sort((a, b) => a.job.data.createdAt - b.job.data.createdAt);
    return jobViews(inFlight, positions);
  }

  /** The poster frame of a delivered video, while it is kept (STORAGE_TTL_DAYS). */
  poster(jobId: string): Promise<Buffer | undefined> {
    if (!/^[\w:.-]{1,200}$/.test(jobId)) return Promise.resolve(undefined);
    return this.deps.results.read(`poster-${jobId}`);
  }

  cancel(jobId: string): Promise<CancelResult> {
    return this.deps.admin.cancel(jobId, this.actor);
  }

  pause(): Promise<PauseState> {
    return this.deps.admin.pauseBot(this.actor);
  }

  resume(): Promise<PauseState> {
    return this.deps.admin.resumeBot(this.actor);
  }
}

function recentJob(record: AuditRecord): RecentJob {
  return {
    jobId: record.jobId,
    requester: record.requesterName ?? `${record.platform}:${record.requesterId}`,
    ...(record.serverId ? { serverId: record.serverId } : {}),
    prompt: record.prompt,
    model: record.model,
    outcome: record.outcome,
    submittedAt: record.submittedAt,
    ...(record.finishedAt ? { durationMs: record.finishedAt - record.submittedAt } : {}),
    ...(record.cost ? { cost: record.cost } : {}),
    ...(record.detail ? { detail: record.detail } : {}),
  };
}
