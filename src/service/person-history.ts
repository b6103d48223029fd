import type { Redis } from 'ioredis';
import type { JobOutcome, JobPlace } from '../core/job.js';
import type { ModelId } from '../core/request.js';

/** One finished job as its person sees it in their list of recent jobs. */
export interface FinishedJob {
  jobId: string;
  outcome: JobOutcome['kind'];
  /** Epoch ms. */
  finishedAt: number;
  prompt: string;
  model: ModelId;
  place?: JobPlace;
  /** Why it failed, who cancelled it. */
  detail?: string;
}

const KEPT = 20;
const KEPT_SECONDS = 7 * 86_400;

/**
 * Each person's last finished jobs, newest first, for `/kinema jobs`. BullMQ cleans finished jobs
 * up and knows nothing of a withheld one, so the outcome listener writes them here as they happen.
 *
 * Redis: `<prefix>:history:<person>`, a list of JSON entries (the last 20, for a week), and
 * `<prefix>:history-seen:<job id>` so an outcome heard twice (a stall, a retried delivery) is kept once.
 */
export class PersonHistory {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(person: string) {
    return `${this.prefix}:history:${person}`;
  }

  async add(person: string, entry: FinishedJob): Promise<void> {
    const first = await this.redis.set(`${this.prefix}:history-seen:${entry.jobId}`, '1', 'EX', 86_400, 'NX');
    if (first !== 'OK') return;
    await this.redis
      .multi()
      .lpush(this.key(person), JSON.stringify(entry))
      .ltrim(this.key(person), 0, KEPT - 1)
      .expire(this.key(person), KEPT_SECONDS)
      .exec();
  }

  async recent(person: string, limit = 10): Promise<FinishedJob[]> {
    const entries = await this.redis.lrange(this.key(person), 0, Math.max(0, Math.min(KEPT, limit)) - 1);
    return entries.map((entry) => JSON.parse(entry) as FinishedJob);
  }
}
