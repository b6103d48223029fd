import { QueueKeys } from 'bullmq';
import type { Redis } from 'ioredis';
import { GENERATE_QUEUE } from '../queue/connection.js';

/**
 * MAX_ACTIVE_PER_USER, enforced where jobs start: BullMQ (open source) hands a job to any free
 * worker slot, so a worker that takes a job of a person who already has that many rendering puts
 * it back (the worker policy), and it starts when one of theirs finishes. Claims are atomic across
 * workers on every machine.
 *
 * Redis: `<prefix>:caps:rendering:<person>`, the set of the person's jobs holding a slot. A member
 * no longer in BullMQ's active list (finished, handed back, its worker crashed) is pruned on the
 * next claim, so a crash never locks a person out.
 */

/** KEYS: the person's set, BullMQ's active list. ARGV: job id, the cap, '1' to claim whatever the cap. */
const CLAIM = `
local mine, active, jobId = KEYS[1], KEYS[2], ARGV[1]
if redis.call('SISMEMBER', mine, jobId) == 1 then return 1 end
for _, id in ipairs(redis.call('SMEMBERS', mine)) do
  if not redis.call('LPOS', active, id) then redis.call('SREM', mine, id) end
end
if ARGV[3] == '1' or redis.call('SCARD', mine) < tonumber(ARGV[2]) then
  redis.call('SADD', mine, jobId)
  redis.call('EXPIRE', mine, 7 * 86400)
  return 1
end
return 0
`;

/** KEYS as CLAIM's. Prunes, then counts. */
const COUNT = `
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not redis.call('LPOS', KEYS[2], id) then redis.call('SREM', KEYS[1], id) end
end
return redis.call('SCARD', KEYS[1])
`;

type SlotRedis = Redis & {
  kinemaCapsClaim(...args: (string | number)[]): Promise<number>;
  kinemaCapsCount(...args: (string | number)[]): Promise<number>;
};

export class RenderingSlots {
  private readonly redis: SlotRedis;
  private readonly active: string;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.redis = redis as SlotRedis;
    if (!('kinemaCapsClaim' in redis)) {
      redis.defineCommand('kinemaCapsClaim', { numberOfKeys: 2, lua: CLAIM });
      redis.defineCommand('kinemaCapsCount', { numberOfKeys: 2, lua: COUNT });
    }
    this.active = new QueueKeys(prefix).getKeys(GENERATE_QUEUE).active!;
  }

  private key(person: string) {
    return `${this.prefix}:caps:rendering:${person}`;
  }

  /**
   * Takes one of the person's `max` slots for the job; false when they are all taken. `force` takes
   * one anyway: a job whose paid task already runs (re-attached after a crash) is rendering either way.
   */
  async claim(person: string, jobId: string, max: number, force = false): Promise<boolean> {
    return (
      (await this.redis.kinemaCapsClaim(this.key(person), this.active, jobId, max, force ? '1' : '0')) === 1
    );
  }

  async release(person: string, jobId: string): Promise<void> {
    await this.redis.srem(this.key(person), jobId);
  }

  /** How many of the person's jobs render now. */
  async rendering(person: string): Promise<number> {
    return this.redis.kinemaCapsCount(this.key(person), this.active);
  }
}
