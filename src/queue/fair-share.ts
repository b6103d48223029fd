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
 * Whether a job still holds its turn: in BullMQ and not finished, or reserved and not added yet
 * (`jobs` prefixes BullMQ's job keys, `marks` the reservation marks).
 */
const LIVE = `
local function live(id, jobs, marks)
  local jobKey = jobs .. id
  if redis.call('EXISTS', jobKey) == 1 then
    return redis.call('HEXISTS', jobKey, 'finishedOn') == 0
  end
  return redis.call('EXISTS', marks .. id) == 1
end
`;

/**
 * Gives a job its turn, and saves its record (KEYS[10], ARGV[7], expiring after ARGV[8] s) in the
 * same round trip. A job already in BullMQ (KEYS[11]) is a duplicate: nothing is written, -1.
 * Forgets the person's finished jobs from the top (only their highest live turn matters) and from
 * the bottom (so a person who always has a job in flight does not grow the set), each down or up to
 * the first live one: a constant number of checks per job, amortised, whatever the set's size.
 * Starts the turns again from 1 when the whole queue is idle (so turns stay far below the limit),
 * and remembers the new job. Idempotent per job id.
 */
const RESERVE = `${LIVE}
local person, jobId = KEYS[1], ARGV[1]
if redis.call('EXISTS', KEYS[11]) == 1 then return -1 end
redis.call('SET', KEYS[10], ARGV[7], 'EX', ARGV[8])
local mine = redis.call('ZSCORE', person, jobId)
if mine then return tonumber(mine) end
for _, at in ipairs({-1, 0}) do
  while true do
    local id = redis.call('ZRANGE', person, at, at)[1]
    if not id or live(id, ARGV[2], ARGV[3]) then break end
    redis.call('ZREM', person, id)
  end
end
if redis.call('EXISTS', KEYS[3], KEYS[4]) > 0 and redis.call('LLEN', KEYS[6]) == 0
  and redis.call('ZCARD', KEYS[7]) == 0 and redis.call('LLEN', KEYS[5]) == 0
  and redis.call('ZCARD', KEYS[8]) == 0 then
  redis.call('DEL', KEYS[3], KEYS[4])
end
local served = tonumber(redis.call('GET', KEYS[2]) or '0')
local last = redis.call('ZRANGE', person, -1, -1, 'WITHSCORES')
local turn = math.min(math.max(served, (tonumber(last[2]) or 0) + 1), tonumber(ARGV[4]))
redis.call('ZADD', person, turn, jobId)
redis.call('EXPIRE', person, ARGV[5])
redis.call('SET', KEYS[9], '1', 'EX', ARGV[6])
return turn
`;

/**
 * Raises `served` of the job's band to the job's turn (never lowers it) and sets the running job's
 * priority to 0; returns its former priority. For an active job (in neither BullMQ's wait list nor
 * its prioritized set) BullMQ's own changePriority only sets this field: done here, it costs no
 * second round trip per job.
 */
const STARTED = `
local priority = tonumber(redis.call('HGET', KEYS[1], 'priority') or '0') or 0
if priority <= 0 then return 0 end
local key, turn = KEYS[2], priority
if priority > tonumber(ARGV[1]) then key, turn = KEYS[3], priority - tonumber(ARGV[1]) end
if turn > tonumber(redis.call('GET', key) or '0') then redis.call('SET', key, turn) end
redis.call('HSET', KEYS[1], 'priority', 0)
return priority
`;

/**
 * Forgets a removed job. When it never started, the person's later waiting jobs move up into the
 * turns it leaves free (never before the turn being served, never before the person's highest live
 * turn below it: finished jobs there are forgotten first): returns [jobId, turn, …] to apply.
 */
const CLOSE_GAP = `${LIVE}
local removed = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not removed then return {} end
removed = tonumber(removed)
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] ~= '1' then return {} end
local served = tonumber(redis.call('GET', KEYS[2]) or '0')
local below
while true do
  below = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. removed, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if not below[1] or live(below[1], ARGV[3], ARGV[4]) then break end
  redis.call('ZREM', KEYS[1], below[1])
end
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

/** A key `reserve` sets with the turn (the job's record): value, and expiry in seconds. */
export interface RecordWrite {
  key: string;
  value: string;
  ttlSeconds: number;
}

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
      redis.defineCommand('kinemaFairReserve', { numberOfKeys: 11, lua: RESERVE });
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

  /**
   * The BullMQ priority a new job takes, with its record saved in the same round trip; undefined
   * when a job with this id is in BullMQ already (nothing was written). Call `added` once the job is
   * in BullMQ (or failed to be).
   */
  async reserve(jobId: string, place: FairPlace, record: RecordWrite): Promise<number | undefined> {
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
      record.key,
      `${this.bull['']}${jobId}`,
      jobId,
      this.bull['']!,
      this.reservationKey(),
      BAND - 1,
      PERSON_TTL_SECONDS,
      RESERVATION_TTL_SECONDS,
      record.value,
      record.ttlSeconds,
    );
    return turn < 0 ? undefined : priorityOf(place.band, turn);
  }

  /**
   * From now on the job counts by its state in BullMQ, not by its reservation. The mark's removal is
   * sent, not awaited: this connection runs it before anything it sends later, and elsewhere a job
   * that is in BullMQ counts by its state whether the mark is there or not (it expires anyway).
   */
  added(jobId: string): void {
    this.redis.del(this.reservationKey(jobId)).catch(() => undefined);
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
      if (priority > 0) job.priority = 0;
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
      this.bull['']!,
      this.reservationKey(),
    );
    const changes: { jobId: string; priority: number }[] = [];
    for (let i = 0; i + 1 < moved.length; i += 2) {
      changes.push({ jobId: String(moved[i]), priority: priorityOf(place.band, Number(moved[i + 1])) });
    }
    return changes;
  }
}
