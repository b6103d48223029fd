import type { Redis } from 'ioredis';
import type { GenerationQueue } from '../queue/generation-queue.js';

/**
 * Jobs a worker put back in BullMQ's delayed set instead of starting them (their person was at the
 * rendering cap, or their server paused), per group (a person, a server), so whatever frees them
 * (a finished job, a resume) can promote them at once instead of waiting out their delay. A
 * promoted job goes back to the prioritized set with its priority, that is its fair turn.
 *
 * Redis: `<prefix>:held:<kind>:<group>`, a sorted set of job ids by priority (earliest turn first).
 */
export class HeldJobs {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly queue: GenerationQueue,
    private readonly kind: 'cap' | 'paused',
  ) {}

  private key(group: string) {
    return `${this.prefix}:held:${this.kind}:${group}`;
  }

  /** Call once the job is in the delayed set, so a promote always finds it there. */
  async add(group: string, jobId: string, priority: number): Promise<void> {
    await this.redis
      .multi()
      .zadd(this.key(group), priority, jobId)
      .expire(this.key(group), 7 * 86_400)
      .exec();
  }

  async remove(group: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.key(group), jobId);
  }

  /** Promotes the held job with the earliest turn that is still held; false when there is none. */
  async promoteFirst(group: string): Promise<boolean> {
    for (const jobId of await this.redis.zrange(this.key(group), '0', '-1')) {
      if (await this.promote(group, jobId)) return true;
    }
    return false;
  }

  async promoteAll(group: string): Promise<number> {
    let promoted = 0;
    for (const jobId of await this.redis.zrange(this.key(group), '0', '-1')) {
      if (await this.promote(group, jobId)) promoted += 1;
    }
    return promoted;
  }

  private async promote(group: string, jobId: string): Promise<boolean> {
    await this.redis.zrem(this.key(group), jobId);
    const job = await this.queue.queue.getJob(jobId);
    if (!job || (await job.getState()) !== 'delayed') return false;
    return job.promote().then(
      () => true,
      () => false, // taken or removed meanwhile
    );
  }
}
