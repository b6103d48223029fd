import { type Job, QueueKeys } from 'bullmq';
import type { Redis } from 'ioredis';
import type { QueueBand } from '../core/job.js';
import { GENERATE_QUEUE } from './connection.js';

/**
 * Fair turns between people, on BullMQ's own `priority` (BullMQ pops the lowest priority first,
 * first-come within one priority, atomically for every worker). A job's priority is its turn:
 *
 *   turn = max(served, the person's last turn still waiting or running + 1)
 *
 * `served` is the highest turn any worker has started, so a person with nothing in flight joins the
 * turn being served now, and a person's next job waits for the next turn after their previous one.
 * Over-quota jobs (relax) take turns in a second band above every normal turn.
 *
 * Redis keys (beside BullMQ's own): `<prefix>:fair:served:<band>`, one sorted set of job → turn per
 * person and band, and a short-lived mark while a job is being added.
 */

/** Turns per band: normal turns are 1…BAND-1, relax turns BAND+1…2·BAND-1 (BullMQ's limit is 2^21-1). */
export const BAND = 2 ** 20;
const BAND_OFFSET: Record<QueueBand, number> = { normal: 0, relax: BAND };
const PERSON_TTL_SECONDS = 7 * 24 * 3600;
/** How long a reserved turn counts for a job that is not in BullMQ yet (a crash between the two). */
const RESERVATION_TTL_SECONDS = 60;

/**
 * Gives a job its turn. Prunes the person's jobs that finished or were removed (a reserved job not
 * yet added still counts), starts the turns again from 1 when the whole queue is idle (so turns stay
 * far below the limit), and remembers the new job. Idempotent per job id.
 */
const RESERVE = `
local person, jobId = KEYS[1], ARGV[1]
local mine = redis.call('ZSCORE', person, jobId)
if mine then return tonumber(mine) end
for _, id in ipairs(redis.call('ZRANGE', person, 0, -1)) do
  local jobKey = ARGV[2] .. id
  local live
  if redis.call('EXISTS', jobKey) == 1 then
    live = redis.call('HEXISTS', jobKey, 'finishedOn') == 0
  else
    live = redis.call('EXISTS', ARGV[3] .. id) == 1
  end
  if not live then redis.call('ZREM', person, id) end
end
local busy = redis.call('LLEN', KEYS[5]) + redis.call('LLEN', KEYS[6])
  + redis.call('ZCARD', KEYS[7]) + redis.call('ZCARD', KEYS[8])
if busy == 0 then redis.call('DEL', KEYS[3], KEYS[4]) end
local served = tonumber(redis.call('GET', KEYS[2]) or '0')
local last = redis.call('ZRANGE', person, -1, -1, 'WITHSCORES')
local turn = math.min(math.max(served, (tonumber(last[2]) or 0) + 1), tonumber(ARGV[4]))
redis.call('ZADD', person, turn, jobId)
redis.call('EXPIRE', person, ARGV[5])
redis.call('SET', KEYS[9], '1', 'EX', ARGV[6])
return turn
`;

/** Raises `served` of the job's band to the job's turn (never lowers it); returns the priority. */
const STARTED = `
local priority = tonumber(redis.call('HGET', KEYS[1], 'priority') or '0') or 0
if priority <= 0 then return 0 end
local key, turn = KEYS[2], priority
if priority > tonumber(ARGV[1]) then key, turn = KEYS[3], priority - tonumber(ARGV[1]) end
if turn > tonumber(redis.call('GET', key) or '0') then redis.call('SET', key, turn) end
return priority
`;

/**
 * Forgets a removed job. When it never started, the person's later waiting jobs move up into the
 * turns it leaves free (never before the turn being served): returns [jobId, turn, …] to apply.
 */
const CLOSE_GAP = `
local removed = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not removed then return {} end
removed = tonumber(removed)
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] ~= '1' then return {} end
local served = tonumber(redis.call('GET', KEYS[2]) or '0')
local below = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. removed, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
local previous = tonumber(below[2]) or 0
local moved = {}
local later = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. removed, '+inf', 'WITHSCORES')
for i = 1, #later, 2 do
  local id, turn = later[i], tonumber(later[i + 1])
  local wanted = math.max(served, previous + 1)
  if wanted < turn and redis.call('ZSCORE', KEYS[3], id) then
    redis.call('ZADD', KEYS[1], wanted, id)
    table.insert(moved, id)
    table.insert(moved, wanted)
    previous = wanted
  else
    previous = turn
  end
end
return moved
`;

type FairRedis = Redis & {
  kinemaFairReserve(...args: (string | number)[]): Promise<number>;
  kinemaFairStarted(...args: (string | number)[]): Promise<number>;
  kinemaFairCloseGap(...args: (string | number)[]): Promise<(string | number)[]>;
};

/** Who a job is counted for, and in which band. */
export interface FairPlace {
  person: string;
  band: QueueBand;
}

/** The BullMQ priority of a turn in a band. */
export const priorityOf = (band: QueueBand, turn: number) => BAND_OFFSET[band] + turn;

export class FairShare {
  private readonly redis: FairRedis;
  private readonly bull: Record<string, string>;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.redis = redis as FairRedis;
    if (!('kinemaFairReserve' in redis)) {
      redis.defineCommand('kinemaFairReserve', { numberOfKeys: 9, lua: RESERVE });
      redis.defineCommand('kinemaFairStarted', { numberOfKeys: 3, lua: STARTED });
      redis.defineCommand('kinemaFairCloseGap', { numberOfKeys: 3, lua: CLOSE_GAP });
    }
    this.bull = new QueueKeys(prefix).getKeys(GENERATE_QUEUE);
  }

  private personKey({ person, band }: FairPlace) {
    return `${this.prefix}:fair:person:${band}:${person}`;
  }

  private servedKey(band: QueueBand) {
    return `${this.prefix}:fair:served:${band}`;
  }

  private reservationKey(jobId = '') {
    return `${this.prefix}:fair:reserving:${jobId}`;
  }

  /** The BullMQ priority a new job takes; call `added` once the job is in BullMQ (or failed to be). */
  async reserve(jobId: string, place: FairPlace): Promise<number> {
    const { wait, active, prioritized, delayed } = this.bull as Record<string, string>;
    const turn = await this.redis.kinemaFairReserve(
      this.personKey(place),
      this.servedKey(place.band),
      this.servedKey('normal'),
      this.servedKey('relax'),
      wait!,
      active!,
      prioritized!,
      delayed!,
      this.reservationKey(jobId),
      jobId,
      this.bull['']!,
      this.reservationKey(),
      BAND - 1,
      PERSON_TTL_SECONDS,
      RESERVATION_TTL_SECONDS,
    );
    return priorityOf(place.band, turn);
  }

  /** From now on the job counts by its state in BullMQ, not by its reservation. */
  async added(jobId: string): Promise<void> {
    await this.redis.del(this.reservationKey(jobId));
  }

  /**
   * A worker took the job: raise `served`, and drop the job's priority to 0 so that if it ever comes
   * back (a retry, a hand-back on shutdown) it goes to BullMQ's plain wait list, served before every
   * waiting turn, as a job whose worker crashed already does: it had its turn and may hold a paid
   * remote task. Bookkeeping only: a Redis hiccup here must not fail the job.
   */
  async started(job: Job): Promise<void> {
    try {
      const priority = await this.redis.kinemaFairStarted(
        `${this.bull['']}${job.id}`,
        this.servedKey('normal'),
        this.servedKey('relax'),
        BAND,
      );
      if (priority > 0) await job.changePriority({ priority: 0 });
    } catch {
      // Stale `served` only lets a newcomer in one turn early; the job itself runs either way.
    }
  }

  /**
   * A waiting job was removed (cancelled): forget it, and when it never started move the person's
   * later jobs up so the cancelled one leaves no gap in their turns. Returns the new priorities.
   */
  async removed(job: Job, place: FairPlace): Promise<{ jobId: string; priority: number }[]> {
    const moved = await this.redis.kinemaFairCloseGap(
      this.personKey(place),
      this.servedKey(place.band),
      this.bull.prioritized!,
      job.id!,
      job.processedOn ? '0' : '1',
    );
    const changes: { jobId: string; priority: number }[] = [];
    for (let i = 0; i + 1 < moved.length; i += 2) {
      changes.push({ jobId: String(moved[i]), priority: priorityOf(place.band, Number(moved[i + 1])) });
    }
    return changes;
  }
}
