import type { Requester } from '../core/job.js';
import { type GenerationQueue, personOf } from '../queue/generation-queue.js';
import type { Community } from './community.js';
import { type JobView, jobViews } from './job-views.js';
import type { FinishedJob, MadeVideo } from './person-history.js';
import { QUOTA_WINDOW_MS, type QuotaScope } from './quotas.js';
import { serverOf } from './server-settings.js';
import type { UserJobs } from './user-jobs.js';

export interface PersonJobs {
  rendering: JobView[];
  /** In the order they will start. */
  waiting: JobView[];
  /** Newest first. */
  recent: FinishedJob[];
}

export interface QuotaLine {
  /** 0 = unlimited. */
  limit: number;
  /** Submitted in the last 24 hours. */
  used: number;
  /** Queued, not submitted yet: they will count. */
  reserved: number;
  /** Videos that still fit; absent when unlimited. */
  left?: number;
  /** When the oldest counted video stops counting (epoch ms); absent when none counts. */
  freesAt?: number;
}

export interface QuotaStatus {
  /** A video counts for 24 hours from its submission. */
  windowMs: number;
  /** What happens over quota here: refused, or queued in relax mode. */
  overflow: 'refuse' | 'relax';
  /** The person across every server; the server the request comes from; the whole bot. */
  lines: Record<QuotaScope, QuotaLine>;
}

/** What a member may see of their own: their jobs, quota and videos (`/kinema jobs`, `quota`, `history`). */
export class MemberDesk {
  constructor(
    private readonly community: Community,
    private readonly queue: GenerationQueue,
    private readonly userJobs: UserJobs,
  ) {}

  /** The person's jobs on every server: rendering, waiting (with positions), and the last `recent` finished. */
  async jobsOf(requester: Requester, recent = 10): Promise<PersonJobs> {
    const person = personOf(requester);
    const [load, positions, finished] = await Promise.all([
      this.userJobs.load(person),
      this.queue.positions(),
      this.community.history.recent(person, recent),
    ]);
    return { ...jobViews(load.jobs, positions), recent: finished };
  }

  /** The person's own last videos (every server), newest first: `/kinema history`. Nobody else's. */
  historyOf(requester: Requester, limit = 20): Promise<MadeVideo[]> {
    return this.community.history.videos(personOf(requester), limit);
  }

  /** Used, left and when it frees up, under the settings of the server the person asks from. */
  async quotaOf(requester: Requester): Promise<QuotaStatus> {
    const settings = await this.community.settings.effective(serverOf(requester));
    const usage = await this.community.quotas.usage(requester, this.community.quotaLimits(settings));
    const lines = {} as Record<QuotaScope, QuotaLine>;
    for (const [scope, line] of Object.entries(usage) as [QuotaScope, (typeof usage)[QuotaScope]][]) {
      lines[scope] = {
        limit: line.limit,
        used: line.used,
        reserved: line.reserved,
        ...(line.limit > 0 ? { left: Math.max(0, line.limit - line.used - line.reserved) } : {}),
        ...(line.nextFreeAt ? { freesAt: line.nextFreeAt } : {}),
      };
    }
    return { windowMs: QUOTA_WINDOW_MS, overflow: settings.quota_overflow, lines };
  }
}
