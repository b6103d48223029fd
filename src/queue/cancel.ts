import type { Redis } from 'ioredis';
import type { Deliveries } from './delivery.js';
import type { GenerationQueue } from './generation-queue.js';

export type CancelResult =
  /** It was still waiting: removed, nothing ran. */
  | 'removed'
  /** It is running somewhere: every worker was told; the owner stops it and its remote task. */
  | 'signalled'
  /** It had already finished. */
  | 'finished'
  | 'unknown';

export interface CancelRequest {
  jobId: string;
  by?: string;
}

/**
 * Cancellation from any process. BullMQ can only abort a job in the Worker instance that holds it,
 * so the request is broadcast on Redis pub/sub and recorded in a key a worker checks when it picks
 * the job up, which closes the gap between "taken from the queue" and "listening".
 */
export class CancelBroadcast {
  private readonly channel: string;
  private subscriber?: Redis;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.channel = `${prefix}:cancel`;
  }

  private flagKey(jobId: string) {
    return `${this.prefix}:cancel:${jobId}`;
  }

  async request(
    queue: GenerationQueue,
    deliveries: Deliveries,
    request: CancelRequest,
  ): Promise<CancelResult> {
    const job = await queue.queue.getJob(request.jobId);
    if (!job) return 'unknown';
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return 'finished';
    await this.redis.set(this.flagKey(request.jobId), request.by ?? 'someone', 'EX', 24 * 3600);
    // A job back in the queue with a live remote task (after a crash, a hand-over or a retry wait)
    // must not just vanish: the next worker that takes it sees the flag and cancels the task too.
    if (job.data.remote) {
      if (state === 'delayed') await job.promote().catch(() => undefined);
      await this.redis.publish(this.channel, JSON.stringify(request));
      return 'signalled';
    }
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
      try {
        await queue.removeWaiting(job);
        await deliveries.send(request.jobId, job.data, { kind: 'cancelled', by: request.by });
        return 'removed';
      } catch {
        // Taken by a worker between the state read and the removal: fall through to the broadcast.
      }
    }
    await this.redis.publish(this.channel, JSON.stringify(request));
    return 'signalled';
  }

  async requestedBy(jobId: string): Promise<string | undefined> {
    return (await this.redis.get(this.flagKey(jobId))) ?? undefined;
  }

  /** Workers call this once; the handler runs in every process for every request. */
  async listen(handler: (request: CancelRequest) => void): Promise<void> {
    this.subscriber = this.redis.duplicate();
    this.subscriber.on('message', (channel, message) => {
      if (channel !== this.channel) return;
      try {
        handler(JSON.parse(message) as CancelRequest);
      } catch {
        // A malformed message must not take the listener down.
      }
    });
    await this.subscriber.subscribe(this.channel);
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => undefined);
  }
}
