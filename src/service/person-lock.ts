import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { TransientError } from '../core/errors.js';

/** Deletes a lock only if it is still ours (it may have expired and been taken by another request). */
const RELEASE_LOCK =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
/** Long enough for the checks, an image download (30 s at most), its check and the enqueue. */
const LOCK_MS = 60_000;

/**
 * Runs the checks and the enqueue for one person at a time, across every bot process and every
 * server they ask from, so concurrent requests (or a burst of reactions) cannot all pass the caps
 * before any of them is counted. Redis: `<prefix>:user-lock:<person>`.
 */
export async function underPersonLock<T>(
  redis: Redis,
  prefix: string,
  person: string,
  work: () => Promise<T>,
): Promise<T> {
  const key = `${prefix}:user-lock:${person}`;
  const token = randomUUID();
  const giveUpAt = Date.now() + LOCK_MS;
  while ((await redis.set(key, token, 'PX', LOCK_MS, 'NX')) !== 'OK') {
    if (Date.now() > giveUpAt) throw new TransientError('too many requests at once; please try again');
    await sleep(25);
  }
  try {
    return await work();
  } finally {
    await redis.eval(RELEASE_LOCK, 1, key, token).catch(() => undefined);
  }
}
