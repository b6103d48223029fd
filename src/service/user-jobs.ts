import type { Redis } from 'ioredis';
import type { GenerationQueue } from '../queue/generation-queue.js';

export interface UserLoad {
  running: number;
  waiting: number;
  jobIds: string[];
}

/**
 * Which jobs each user has in flight, for per-user caps (BullMQ's groups are a Pro feature). The
 * set is pruned on read from the jobs' real states, so a crash never leaves a user locked out.
 */
export class UserJobs {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly queue: GenerationQueue,
  ) {}

  private key(scope: string) {
    return `${this.prefix}:user-jobs:${scope}`;
  }

  async add(scope: string, jobId: string): Promise<void> {
    await this.redis
      .multi()
      .sadd(this.key(scope), jobId)
      .expire(this.key(scope), 7 * 86_400)
      .exec();
  }

  async load(scope: string): Promise<UserLoad> {
    const ids = await this.redis.smembers(this.key(scope));
    const load: UserLoad = { running: 0, waiting: 0, jobIds: [] };
    for (const id of ids) {
      const state = await this.queue.state(id);
      if (state === 'active') load.running += 1;
      else if (state === 'waiting' || state === 'delayed' || state === 'prioritized') load.waiting += 1;
      else {
        await this.redis.srem(this.key(scope), id);
        continue;
      }
      load.jobIds.push(id);
    }
    return load;
  }
}
