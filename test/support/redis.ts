import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteKeysUnder } from '../../src/storage/keys.js';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A unique key prefix per test file, so parallel files and repeated runs never see each other. */
export function uniquePrefix(label = 'test'): string {
  return `kinema-${label}-${randomUUID().slice(0, 8)}`;
}

export function testRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
}

/** Deletes every key under a prefix. */
export const cleanPrefix = deleteKeysUnder;
