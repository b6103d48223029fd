import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { GenerationJobData, JobPlace } from '../core/job.js';
import type { GenerationQueue } from '../queue/generation-queue.js';

export interface InFlightJob {
  jobId: string;
  /** Rendering: a worker holds it. Waiting: in line, retrying, or held back by a worker. */
  state: 'rendering' | 'waiting';
  job: Job<GenerationJobData>;
  place: JobPlace;
}

export interface UserLoad {
  /** Where each rendering job was asked for, oldest first. */
  rendering: JobPlace[];
  waiting: JobPlace[];
  jobs: InFlightJob[];
}

/** Where a job was asked for; jobs queued before the service recorded it fall back to their report target. */
export function placeOfJob(data: GenerationJobData): JobPlace {
  if (data.place) return data.place;
  const channelId = String(data.reportTo.channelId ?? data.reportTo.channel ?? '');
  return {
    channelId,
    isDirectMessage: false,
    ...(data.requester.scopeId ? { serverId: data.requester.scopeId } : {}),
  };
}

/**
 * Which jobs are in flight for one scope: a person (`user-jobs`, for the caps and `/kinema jobs`,
 * across every server) or a server (`server-jobs`, for `/kinema-admin queue`). A set per scope,
 * pruned on read from the jobs' real states, so a crash never leaves anyone locked out.
 */
export class UserJobs {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly queue: GenerationQueue,
    private readonly index: 'user-jobs' | 'server-jobs' = 'user-jobs',
  ) {}

  private key(scope: string) {
    return `${this.prefix}:${this.index}:${scope}`;
  }

  async add(scope: string, jobId: string): Promise<void> {
    await this.redis
      .multi()
      .sadd(this.key(scope), jobId)
      .expire(this.key(scope), 7 * 86_400)
      .exec();
  }

  async load(scope: string): Promise<UserLoad> {
    const jobs: InFlightJob[] = [];
    for (const jobId of await this.redis.smembers(this.key(scope))) {
      const job = await this.queue.queue.getJob(jobId);
      const state = job ? await job.getState() : 'unknown';
      if (!job || !['active', 'waiting', 'prioritized', 'delayed'].includes(state)) {
        await this.redis.srem(this.key(scope), jobId);
        continue;
      }
      jobs.push({
        jobId,
        state: state === 'active' ? 'rendering' : 'waiting',
        job,
        place: placeOfJob(job.data),
      });
    }
    jobs.sort((a, b) => a.job.data.createdAt - b.job.data.createdAt);
    const where = (state: InFlightJob['state']) =>
      jobs.filter((job) => job.state === state).map((job) => job.place);
    return { rendering: where('rendering'), waiting: where('waiting'), jobs };
  }
}
