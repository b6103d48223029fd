import { QueueKeys } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Requester } from '../core/job.js';
import { GENERATE_QUEUE } from '../queue/connection.js';
import { personOf } from '../queue/generation-queue.js';
import { serverOf } from './server-settings.js';

/**
 * Daily quotas in Redis, over a rolling 24-hour window: a video counts from the moment it is
 * submitted to the backend until 24 hours later, so "frees up at" is exact (the oldest counted
 * video's time + 24 h) and nobody gets a fresh quota at midnight UTC in a burst.
 *
 * Three scopes per job: its person (across every server), its server, and the whole bot. Each has
 * a sorted set of counted jobs (scored by submission time) and one of reserved jobs (queued, not
 * submitted yet). The check at enqueue counts both, in one Lua script, so 50 requests in a burst
 * cannot all pass a quota of 5; the reservation becomes a count at submission (`commit`) or is
 * released when the job ends before it (`release`). A reservation whose job is gone or finished
 * without either (a crash) is pruned on the next check.
 *
 * Keys: `<prefix>:quota:<scope>:counted` and `:reserved`, scope `person:<platform>:<id>`,
 * `server:<platform>:<server>` or `total`.
 */

export const QUOTA_WINDOW_MS = 24 * 3_600_000;
/** A reservation may precede its job in BullMQ by this long (the image download, the enqueue). */
const RESERVATION_GRACE_MS = 120_000;

export type QuotaScope = 'person' | 'server' | 'total';
export const QUOTA_SCOPES: readonly QuotaScope[] = ['person', 'server', 'total'];

/** The limit of each scope; 0 = unlimited. */
export type QuotaLimits = Record<QuotaScope, number>;

export interface QuotaUsage {
  /** Videos submitted in the last 24 hours. */
  used: number;
  /** Videos queued and not submitted yet: they will count. */
  reserved: number;
  /** 0 = unlimited. */
  limit: number;
  /** Epoch ms when the next video stops counting (the oldest counted + 24 h), if any counts. */
  nextFreeAt?: number;
}

export type QuotaVerdict =
  | { ok: true }
  /** `freesAt` is when one more video fits (epoch ms); an estimate of "not before" when queued jobs hold the quota. */
  | { ok: false; scope: QuotaScope; used: number; reserved: number; limit: number; freesAt: number };

/**
 * KEYS: counted and reserved set of each scope, in turn. ARGV: now, window, job id, BullMQ's job key
 * prefix, grace, '1' to reserve (else only look), then each scope's limit. Returns {0} when every
 * limit has room (and the job is reserved in every scope), else {scope index, used, reserved, limit, freesAt}.
 */
const CHECK = `
local now, window, jobId, jobPrefix, grace = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])
local scopes = #KEYS / 2
for i = 1, scopes do
  local counted, reserved = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZREMRANGEBYSCORE', counted, '-inf', now - window)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', reserved, '-inf', now - grace)) do
    local key = jobPrefix .. id
    if redis.call('EXISTS', key) == 0 or redis.call('HEXISTS', key, 'finishedOn') == 1 then
      redis.call('ZREM', reserved, id)
    end
  end
end
for i = 1, scopes do
  local limit = tonumber(ARGV[6 + i])
  if limit > 0 then
    local counted, reserved = KEYS[2 * i - 1], KEYS[2 * i]
    local used = redis.call('ZCARD', counted)
    local held = redis.call('ZCARD', reserved)
    if redis.call('ZSCORE', reserved, jobId) then held = held - 1 end
    if used + held >= limit then
      local expiring = used + held - limit + 1
      local freesAt = now + window
      if expiring <= used then
        freesAt = tonumber(redis.call('ZRANGE', counted, expiring - 1, expiring - 1, 'WITHSCORES')[2]) + window
      end
      return {i, used, held, limit, freesAt}
    end
  end
end
if ARGV[6] == '1' then
  for i = 1, scopes do
    redis.call('ZADD', KEYS[2 * i], 'NX', now, jobId)
    redis.call('PEXPIRE', KEYS[2 * i], 2 * window)
  end
end
return {0}
`;

/** KEYS as CHECK's. ARGV: now, window, job id. Moves the job from reserved to counted in every scope that holds it. */
const COMMIT = `
for i = 1, #KEYS / 2 do
  if redis.call('ZREM', KEYS[2 * i], ARGV[3]) == 1 then
    redis.call('ZADD', KEYS[2 * i - 1], ARGV[1], ARGV[3])
    redis.call('PEXPIRE', KEYS[2 * i - 1], 2 * tonumber(ARGV[2]))
  end
end
return 0
`;

type QuotaRedis = Redis & {
  kinemaQuotaCheck(...args: (string | number)[]): Promise<number[]>;
  kinemaQuotaCommit(...args: (string | number)[]): Promise<number>;
};

export class Quotas {
  private readonly redis: QuotaRedis;
  private readonly jobPrefix: string;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.redis = redis as QuotaRedis;
    if (!('kinemaQuotaCheck' in redis)) {
      redis.defineCommand('kinemaQuotaCheck', { lua: CHECK });
      redis.defineCommand('kinemaQuotaCommit', { lua: COMMIT });
    }
    this.jobPrefix = new QueueKeys(prefix).getKeys(GENERATE_QUEUE)['']!;
  }

  private keys(requester: Requester): string[] {
    const scopes = {
      person: `person:${personOf(requester)}`,
      server: `server:${serverOf(requester)}`,
      total: 'total',
    };
    return QUOTA_SCOPES.flatMap((scope) => [
      `${this.prefix}:quota:${scopes[scope]}:counted`,
      `${this.prefix}:quota:${scopes[scope]}:reserved`,
    ]);
  }

  private async check(requester: Requester, jobId: string, limits: QuotaLimits, reserve: boolean) {
    const keys = this.keys(requester);
    const reply = await this.redis.kinemaQuotaCheck(
      keys.length,
      ...keys,
      this.now(),
      QUOTA_WINDOW_MS,
      jobId,
      this.jobPrefix,
      RESERVATION_GRACE_MS,
      reserve ? '1' : '0',
      ...QUOTA_SCOPES.map((scope) => limits[scope]),
    );
    const [index, used, reserved, limit, freesAt] = reply.map(Number);
    if (!index) return { ok: true } as const;
    const scope = QUOTA_SCOPES[index - 1]!;
    return { ok: false, scope, used: used!, reserved: reserved!, limit: limit!, freesAt: freesAt! } as const;
  }

  /** Whether one more video fits, without reserving anything (the check before the image is read). */
  peek(requester: Requester, limits: QuotaLimits): Promise<QuotaVerdict> {
    return this.check(requester, '', limits, false);
  }

  /** Reserves the job in every scope if every limit has room; atomic, so concurrent requests cannot overshoot. */
  reserve(requester: Requester, jobId: string, limits: QuotaLimits): Promise<QuotaVerdict> {
    return this.check(requester, jobId, limits, true);
  }

  /** The job was submitted to the backend: its reservation becomes a count, from now for 24 hours. */
  async commit(requester: Requester, jobId: string): Promise<void> {
    const keys = this.keys(requester);
    await this.redis.kinemaQuotaCommit(keys.length, ...keys, this.now(), QUOTA_WINDOW_MS, jobId);
  }

  /** The job ended before it was submitted (refused, failed, cancelled while waiting): it costs nothing. */
  async release(requester: Requester, jobId: string): Promise<void> {
    const keys = this.keys(requester);
    const pipeline = this.redis.pipeline();
    for (let i = 1; i < keys.length; i += 2) pipeline.zrem(keys[i]!, jobId);
    await pipeline.exec();
  }

  /** What each scope has used and holds, for `/kinema quota`. */
  async usage(requester: Requester, limits: QuotaLimits): Promise<Record<QuotaScope, QuotaUsage>> {
    await this.peek(requester, { person: 0, server: 0, total: 0 }); // prunes what expired
    const keys = this.keys(requester);
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < keys.length; i += 2) {
      pipeline
        .zcard(keys[i]!)
        .zcard(keys[i + 1]!)
        .zrange(keys[i]!, '0', '0', 'WITHSCORES');
    }
    const replies = ((await pipeline.exec()) ?? []).map(([, value]) => value);
    const usage = {} as Record<QuotaScope, QuotaUsage>;
    QUOTA_SCOPES.forEach((scope, i) => {
      const oldest = replies[3 * i + 2] as string[];
      usage[scope] = {
        used: Number(replies[3 * i]),
        reserved: Number(replies[3 * i + 1]),
        limit: limits[scope],
        ...(oldest[1] ? { nextFreeAt: Number(oldest[1]) + QUOTA_WINDOW_MS } : {}),
      };
    });
    return usage;
  }
}
