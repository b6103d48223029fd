import { describe, expect, it } from 'vitest';
import { TransientError } from '../../src/core/errors.js';
import { retryDelay } from '../../src/queue/generation-queue.js';

describe('retry backoff', () => {
  it('grows exponentially from the base delay, with jitter below it, and stops growing at ten minutes', () => {
    for (const attempt of [1, 2, 3, 4]) {
      const delay = retryDelay(attempt, 5_000);
      expect(delay).toBeLessThanOrEqual(5_000 * 2 ** (attempt - 1));
      expect(delay).toBeGreaterThanOrEqual(0.7 * 5_000 * 2 ** (attempt - 1));
    }
    expect(retryDelay(30, 5_000)).toBeLessThanOrEqual(600_000);
  });

  it('never retries sooner than the service asked (Retry-After)', () => {
    expect(retryDelay(1, 1_000, new TransientError('rate limited', 60_000))).toBe(60_000);
    expect(retryDelay(1, 1_000, new Error('plain'))).toBeLessThanOrEqual(1_000);
  });
});
