import type { Redis } from 'ioredis';
import type { DeliveryJobData } from '../core/job.js';

/**
 * The groups of a `variants` command, in Redis so a restarted bot carries on: which jobs a group
 * has, and the outcome of each as its delivery arrives. The group's videos are posted together
 * once every job has an outcome (cancelled ones included), by the delivery that completes it.
 *
 * Keys: `<prefix>:group:<lead>` (the member ids, JSON), `<prefix>:group-outcomes:<lead>` (member id
 * → its delivery, JSON), `<prefix>:group-claim:<lead>` (who posts the group; expires, so a crashed
 * post is taken over by the retried delivery).
 */

/** Members after the first are named after the lead, so a job event finds its group without I/O. */
export const variantJobId = (lead: string, index: number) => (index === 1 ? lead : `${lead}.v${index}`);

/** The lead (group) of a job id; a job of no group is its own lead. */
export const leadOf = (jobId: string) => jobId.replace(/\.v\d+$/, '');

export interface GroupState {
  members: string[];
  /** Member id → its delivered outcome, for those that have one. */
  outcomes: Map<string, DeliveryJobData>;
}

const TTL_SECONDS = 14 * 86_400;
const CLAIM_SECONDS = 600;

export class JobGroups {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(kind: string, lead: string) {
    return `${this.prefix}:${kind}:${lead}`;
  }

  async create(lead: string, members: string[]): Promise<void> {
    await this.redis.set(this.key('group', lead), JSON.stringify(members), 'EX', TTL_SECONDS);
  }

  async members(lead: string): Promise<string[] | undefined> {
    const raw = await this.redis.get(this.key('group', lead));
    return raw ? (JSON.parse(raw) as string[]) : undefined;
  }

  async state(lead: string): Promise<GroupState | undefined> {
    const members = await this.members(lead);
    if (!members) return undefined;
    const raw = await this.redis.hgetall(this.key('group-outcomes', lead));
    const outcomes = new Map(
      Object.entries(raw).map(([id, json]) => [id, JSON.parse(json) as DeliveryJobData] as const),
    );
    return { members, outcomes };
  }

  /** Records one member's outcome (idempotent) and answers the group as it now stands. */
  async record(delivery: DeliveryJobData): Promise<GroupState | undefined> {
    const lead = delivery.group?.lead ?? delivery.jobId;
    const key = this.key('group-outcomes', lead);
    await this.redis
      .multi()
      .hset(key, delivery.jobId, JSON.stringify(delivery))
      .expire(key, TTL_SECONDS)
      .exec();
    return this.state(lead);
  }

  /** True for the one delivery that is to post the group now; it calls `release` if it fails. */
  async claim(lead: string, by: string): Promise<boolean> {
    const key = this.key('group-claim', lead);
    if ((await this.redis.set(key, by, 'EX', CLAIM_SECONDS, 'NX')) === 'OK') return true;
    return (await this.redis.get(key)) === by;
  }

  async release(lead: string): Promise<void> {
    await this.redis.del(this.key('group-claim', lead));
  }
}

/** Whether every member has an outcome. */
export const groupComplete = (state: GroupState) => state.members.every((id) => state.outcomes.has(id));
