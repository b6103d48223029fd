import type { Redis } from 'ioredis';
import type { DeliveryJobData } from '../core/job.js';
import type { StatusView } from '../core/status-text.js';
import type { Logger } from '../log.js';
import { BotStatusTracker, type StatusSink } from '../queue/bot-status-tracker.js';
import { deliveryQueueName } from '../queue/connection.js';
import { DeliveryWorker } from '../queue/delivery.js';
import type { GenerationQueue } from '../queue/generation-queue.js';
import { type GroupState, JobGroups } from '../queue/job-groups.js';

export type { StatusSink } from '../queue/bot-status-tracker.js';
export type { DeliveryDone } from '../queue/delivery.js';
export { type GroupState, groupComplete } from '../queue/job-groups.js';

export interface FeedDeps {
  redis: Redis;
  prefix: string;
  queue: GenerationQueue;
  log: Logger;
}

export interface FeedOptions {
  /** Least time between two edits of one status message. */
  statusIntervalMs: number;
}

/**
 * The bot-side ends of one platform's two Redis hops, set up the same way for every platform:
 * job progress → BotStatusTracker → the platform's status sink, and finished jobs → the platform's
 * delivery queue → its deliverer. Platforms get this from the service and never see the queue.
 */
export class PlatformFeed {
  private readonly tracker: BotStatusTracker;
  private deliveries?: DeliveryWorker;
  private connection?: Redis;
  private readonly groups: JobGroups;

  constructor(
    private readonly deps: FeedDeps,
    private readonly platform: string,
    sink: StatusSink,
    options: FeedOptions,
  ) {
    this.tracker = new BotStatusTracker(deps.redis, deps.queue, sink, deps.log, {
      prefix: deps.prefix,
      platform,
      minIntervalMs: options.statusIntervalMs,
    });
    this.groups = new JobGroups(deps.redis, deps.prefix);
  }

  /** Draws a tracked status again soon (a group one of whose videos just finished). */
  refresh(jobId: string): Promise<void> {
    return this.tracker.refresh(jobId);
  }

  /** Records a variant's outcome with its group; undefined when the group is no longer known. */
  recordVariant(delivery: DeliveryJobData): Promise<GroupState | undefined> {
    return this.groups.record(delivery);
  }

  /** True for the one delivery that posts a complete group; `releaseGroup` if that post fails. */
  claimGroup(lead: string, by: string): Promise<boolean> {
    return this.groups.claim(lead, by);
  }

  releaseGroup(lead: string): Promise<void> {
    return this.groups.release(lead);
  }

  /** Keeps a job's status message current; `posted` is what that message shows already. */
  track(jobId: string, posted?: StatusView): Promise<void> {
    return this.tracker.track(jobId, posted);
  }

  /** No more progress edits for the job (its outcome is drawn, or it was withdrawn). */
  untrack(jobId: string): Promise<void> {
    return this.tracker.untrack(jobId);
  }

  /** Once the platform is connected: status edits resume, and outcomes start arriving. */
  async start(deliver: (delivery: DeliveryJobData) => Promise<unknown>): Promise<void> {
    await this.tracker.start();
    this.connection = this.deps.redis.duplicate();
    this.deliveries = new DeliveryWorker(
      this.connection,
      this.deps.prefix,
      deliveryQueueName(this.platform),
      (delivery) => deliver(delivery),
      this.deps.log,
    );
  }

  async close(): Promise<void> {
    await this.deliveries?.close();
    await this.tracker.close();
    await this.connection?.quit().catch(() => undefined);
  }
}
