import type { Redis } from 'ioredis';

/**
 * How long past runs took, per backend, model, size and frame count, so progress and ETA for a
 * service that reports no percent get better with use. Kept in Redis: every worker learns from all.
 */
export class DurationHistory {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly keep = 20,
  ) {}

  private key(shapeKey: string) {
    return `${this.prefix}:durations:${shapeKey}`;
  }

  async record(shapeKey: string, durationMs: number): Promise<void> {
    if (!Number.isFinite(durationMs) || durationMs <= 0) return;
    await this.redis
      .multi()
      .lpush(this.key(shapeKey), Math.round(durationMs))
      .ltrim(this.key(shapeKey), 0, this.keep - 1)
      .exec();
  }

  /** Median of the recent runs, or the fallback when there are none yet. */
  async estimate(shapeKey: string, fallbackMs: number): Promise<{ ms: number; samples: number }> {
    const values = (await this.redis.lrange(this.key(shapeKey), 0, -1)).map(Number).filter((n) => n > 0);
    if (values.length === 0) return { ms: fallbackMs, samples: 0 };
    values.sort((a, b) => a - b);
    const mid = Math.floor(values.length / 2);
    const median = values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
    return { ms: median, samples: values.length };
  }
}

/** A time-based percent that moves steadily, slows near the end, and never reaches 100 by itself. */
export function percentFromElapsed(elapsedMs: number, expectedMs: number, from: number, to: number): number {
  if (expectedMs <= 0) return from;
  const ratio = elapsedMs / expectedMs;
  // Linear up to 90 % of the expected time, then an asymptote, so an overrun never shows 100.
  const eased = ratio < 0.9 ? ratio : 0.9 + 0.1 * (1 - Math.exp(-(ratio - 0.9) * 3));
  return Math.min(to - 1, Math.floor(from + (to - from) * Math.min(eased, 0.999)));
}
