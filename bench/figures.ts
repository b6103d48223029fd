/** Small helpers the benchmarks share: order statistics and a Redis memory reading. */
import type { Redis } from 'ioredis';

/** The value below which `share` (0–1) of the samples fall (nearest rank). */
export function percentile(values: readonly number[], share: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1))]!;
}

export const median = (values: readonly number[]) => percentile(values, 0.5);

/** `min/median/max` of a few runs, as the README quotes them. */
export function spread(values: readonly number[], digits = 0): string {
  const fixed = (value: number) => value.toFixed(digits);
  return `${fixed(Math.min(...values))}/${fixed(median(values))}/${fixed(Math.max(...values))}`;
}

export const MB = 1_000_000;

/** Redis's `used_memory`, in bytes. */
export async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
