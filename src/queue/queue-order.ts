import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface QueuePosition {
  /** 1-based, in the order workers will take the jobs. */
  position: number;
  of: number;
}

/**
 * The order in which workers will take waiting jobs, read from BullMQ's own structures in one
 * round trip (MULTI, so a job moving meanwhile is counted once):
 * 1. the plain wait list, popped from its right end: jobs resuming after a crash;
 * 2. delayed jobs already due (a retry past its backoff, a hand-back), oldest first: the next worker
 *    that looks for a job moves them to the left end of the wait list;
 * 3. the prioritized set by score: the fair turns.
 * Every job that reaches 1 or 2 has started before, so its priority is 0 (see FairShare.started).
 */
export class QueueOrder {
  private readonly keys: { wait: string; delayed: string; prioritized: string };

  constructor(
    private readonly redis: Redis,
    queue: Queue,
  ) {
    const { wait, delayed, prioritized } = queue.keys;
    this.keys = { wait: wait!, delayed: delayed!, prioritized: prioritized! };
  }

  /** Highest delayed-set score that is due now: BullMQ scores a delayed job by due ms × 4096 (+ a counter). */
  private static dueScore(): number {
    return (Date.now() + 1) * 0x1000 - 1;
  }

  async position(jobId: string): Promise<QueuePosition | undefined> {
    const { wait, delayed, prioritized } = this.keys;
    const due = QueueOrder.dueScore();
    const replies = await this.redis
      .multi()
      .llen(wait)
      .zcount(delayed, '-inf', due)
      .zcard(prioritized)
      .lpos(wait, jobId)
      .zscore(delayed, jobId)
      .zrank(delayed, jobId)
      .zrank(prioritized, jobId)
      .exec();
    const [resuming, dueCount, turns, index, delayedScore, delayedRank, rank] = (replies ?? []).map(
      ([, value]) => (value === null ? undefined : Number(value)),
    );
    const before = (resuming ?? 0) + (dueCount ?? 0);
    const of = before + (turns ?? 0);
    if (index !== undefined) return { position: (resuming ?? 0) - index, of };
    if (delayedScore !== undefined && delayedScore <= due && delayedRank !== undefined) {
      return { position: (resuming ?? 0) + delayedRank + 1, of };
    }
    if (rank !== undefined) return { position: before + rank + 1, of };
    return undefined;
  }

  async positions(): Promise<Map<string, QueuePosition>> {
    const { wait, delayed, prioritized } = this.keys;
    const replies = await this.redis
      .multi()
      .lrange(wait, 0, -1)
      .zrangebyscore(delayed, '-inf', String(QueueOrder.dueScore()))
      .zrange(prioritized, 0, '-1')
      .exec();
    const [resuming, due, turns] = (replies ?? []).map(([, value]) => (value ?? []) as string[]);
    const ids = [...(resuming ?? []).reverse(), ...(due ?? []), ...(turns ?? [])];
    return new Map(ids.map((id, index) => [id, { position: index + 1, of: ids.length }]));
  }
}
