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

/** One video a person made, for `/kinema history`: enough to find the post and reproduce it. */
export interface MadeVideo {
  jobId: string;
  /** Epoch ms. */
  finishedAt: number;
  prompt: string;
  model: ModelId;
  seed: number;
  durationSeconds?: number;
  numFrames?: number;
  place?: JobPlace;
}

const KEPT = 20;
const KEPT_SECONDS = 7 * 86_400;
const VIDEOS_KEPT_SECONDS = 30 * 86_400;

/**
 * Each person's last finished jobs, newest first, for `/kinema jobs`. BullMQ cleans finished jobs
 * up and knows nothing of a withheld one, so the outcome listener writes them here as they happen.
 *
 * Redis: `<prefix>:history:<person>`, a list of JSON entries (the last 20, for a week),
 * `<prefix>:videos:<person>`, the last 20 videos made (for 30 days, `/kinema history`), and
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

  private videosKey(person: string) {
    return `${this.prefix}:videos:${person}`;
  }

  /** A finished job, and the video it made when it made one. */
  async add(person: string, entry: FinishedJob, video?: MadeVideo): Promise<void> {
    const first = await this.redis.set(`${this.prefix}:history-seen:${entry.jobId}`, '1', 'EX', 86_400, 'NX');
    if (first !== 'OK') return;
    const write = this.redis
      .multi()
      .lpush(this.key(person), JSON.stringify(entry))
      .ltrim(this.key(person), 0, KEPT - 1)
      .expire(this.key(person), KEPT_SECONDS);
    if (video) {
      write
        .lpush(this.videosKey(person), JSON.stringify(video))
        .ltrim(this.videosKey(person), 0, KEPT - 1)
        .expire(this.videosKey(person), VIDEOS_KEPT_SECONDS);
    }
    await write.exec();
  }

  /** The person's last videos, newest first (at most 20). */
  async videos(person: string, limit = KEPT): Promise<MadeVideo[]> {
    const entries = await this.redis.lrange(
      this.videosKey(person),
      0,
      Math.max(0, Math.min(KEPT, limit)) - 1,
    );
    return entries.map((entry) => JSON.parse(entry) as MadeVideo);
  }

  async recent(person: string, limit = 10): Promise<FinishedJob[]> {
    const entries = await this.redis.lrange(this.key(person), 0, Math.max(0, Math.min(KEPT, limit)) - 1);
    return entries.map((entry) => JSON.parse(entry) as FinishedJob);
  }
}
