import type { Redis } from 'ioredis';
import type { Cost } from '../core/job.js';
import { MODEL_PROFILES, resolutionOf } from '../core/models.js';
import type { GenerationRequest } from '../core/request.js';

/**
 * Prices and spend. PRICE_TABLE gives a price per video by model and resolution
 * (`wan2.2-a14b@480p=0.20`) or by model alone (`wan2.1=0.10`); a video's estimate is shown on its
 * result, and what was submitted is summed per UTC calendar day, per server and for the whole bot.
 *
 * Redis: `<prefix>:spend:<YYYY-MM-DD>`, a hash with `total` and `server:<platform>:<server>`,
 * kept SPEND_KEPT_DAYS; `<prefix>:spent:<job id>` marks a job already summed (a re-submission
 * after a crash, or RESUBMIT_AMBIGUOUS, is summed once).
 */

const SPEND_KEPT_DAYS = 400;

export class PriceTable {
  constructor(
    /** As config.ts parses PRICE_TABLE: `model@resolution` or `model` → price. */
    private readonly prices: Readonly<Record<string, number>>,
    readonly currency: string,
  ) {}

  cost(request: Pick<GenerationRequest, 'model' | 'size'>): Cost | undefined {
    const size = request.size ?? MODEL_PROFILES[request.model]?.defaults.size;
    const exact = size ? this.prices[`${request.model}@${resolutionOf(size)}`] : undefined;
    const amount = exact ?? this.prices[request.model];
    return amount === undefined ? undefined : { amount, currency: this.currency };
  }
}

export interface SpendDay {
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  /** The server's spend that day (when asked for one server). */
  server?: number;
  /** The whole bot's spend that day (bot owners only, in the admin view). */
  total?: number;
  currency: string;
}

export const utcDay = (at: number) => new Date(at).toISOString().slice(0, 10);

export class Spend {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly currency: string,
    private readonly now: () => number = Date.now,
  ) {}

  private dayKey(day: string) {
    return `${this.prefix}:spend:${day}`;
  }

  /** Adds a submitted job's cost to today's sums, once per job. */
  async record(jobId: string, server: string, cost: Cost): Promise<void> {
    const first = await this.redis.set(`${this.prefix}:spent:${jobId}`, '1', 'EX', 3 * 86_400, 'NX');
    if (first !== 'OK') return;
    const key = this.dayKey(utcDay(this.now()));
    await this.redis
      .multi()
      .hincrbyfloat(key, 'total', cost.amount)
      .hincrbyfloat(key, `server:${server}`, cost.amount)
      .expire(key, SPEND_KEPT_DAYS * 86_400)
      .exec();
  }

  /** The last `days` days, newest first; `server` adds that server's share. */
  async days(days: number, server?: string): Promise<SpendDay[]> {
    const count = Math.max(1, Math.min(SPEND_KEPT_DAYS, Math.floor(days)));
    const names = Array.from({ length: count }, (_, i) => utcDay(this.now() - i * 86_400_000));
    const pipeline = this.redis.pipeline();
    for (const day of names) pipeline.hmget(this.dayKey(day), 'total', server ? `server:${server}` : 'total');
    const replies = (await pipeline.exec()) ?? [];
    return names.map((day, i) => {
      const [total, mine] = (replies[i]?.[1] as (string | null)[] | undefined) ?? [];
      const round = (value: string | null | undefined) => Math.round(Number(value ?? 0) * 1e6) / 1e6;
      return {
        day,
        total: round(total),
        ...(server ? { server: round(mine) } : {}),
        currency: this.currency,
      };
    });
  }
}
