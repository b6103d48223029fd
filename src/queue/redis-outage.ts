import type { Logger } from '../log.js';

export interface RedisOutageOptions {
  /** While Redis stays down, say so again at most this often. */
  repeatEveryMs?: number;
  now?: () => number;
}

/**
 * Whether this process can reach Redis, and since when it cannot. ioredis reports a failure on
 * every reconnect attempt of every connection, and BullMQ forwards each one to every queue and
 * worker on it (dozens of lines in seconds); connections made by `redisConnection` report here
 * instead, so an outage is one line when it starts, one a minute while it lasts, and one when
 * Redis is back.
 */
export class RedisOutage {
  private downSince?: number;
  private lastReportAt = 0;
  private readonly repeatEveryMs: number;
  private readonly now: () => number;

  constructor(
    private readonly log: Pick<Logger, 'error' | 'info'>,
    options: RedisOutageOptions = {},
  ) {
    this.repeatEveryMs = options.repeatEveryMs ?? 60_000;
    this.now = options.now ?? (() => Date.now());
  }

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  /** A connection failed to reach Redis, or lost it. */
  connectionFailed(error: unknown): void {
    const now = this.now();
    if (this.downSince === undefined) {
      this.downSince = now;
      this.lastReportAt = now;
      this.log.error(
        { err: error },
        'Redis is unreachable; waiting for it (repeated once a minute until it is back)',
      );
      return;
    }
    if (now - this.lastReportAt < this.repeatEveryMs) return;
    this.lastReportAt = now;
    const downForSeconds = this.secondsSince(this.downSince);
    this.log.error({ err: error, downForSeconds }, `Redis is still unreachable, for ${downForSeconds} s now`);
  }

  /** A connection is ready: Redis answers again. */
  connectionReady(): void {
    if (this.downSince === undefined) return;
    const downForSeconds = this.secondsSince(this.downSince);
    this.downSince = undefined;
    this.log.info({ downForSeconds }, `Redis is back after ${downForSeconds} s`);
  }

  private secondsSince(at: number): number {
    return Math.round((this.now() - at) / 1000);
  }
}

let processOutage: RedisOutage | undefined;

/** One record per process, so an outage is logged once however many connections see it. */
export function processRedisOutage(log: Pick<Logger, 'error' | 'info'>): RedisOutage {
  processOutage ??= new RedisOutage(log);
  return processOutage;
}
