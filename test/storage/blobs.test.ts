import { afterAll, describe, expect, it } from 'vitest';
import { BlobStore } from '../../src/storage/blobs.js';
import { openObjectStorage } from '../../src/storage/object-storage.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../support/redis.js';
import { startLocalS3 } from '../support/s3.js';

const redis = testRedis();
const prefix = uniquePrefix('blobs');
const DAYS_30 = 30 * 86_400;
const HOURS_24 = 24 * 3_600;
const local = await startLocalS3(`${prefix}/files`);
const skipReason = 'why' in local ? local.why : undefined;

const redisOnly = new BlobStore(redis, { prefix, ttlSeconds: DAYS_30, resultTtlSeconds: HOURS_24 });
const withBucket =
  'settings' in local
    ? new BlobStore(redis, {
        prefix,
        ttlSeconds: DAYS_30,
        resultTtlSeconds: HOURS_24,
        objects: openObjectStorage(local.settings),
      })
    : undefined;

afterAll(async () => {
  await withBucket?.close();
  if ('settings' in local) await local.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

const redisKeys = async (name: string) => {
  const [, keys] = await redis.scan('0', 'MATCH', `${prefix}:blob:${name}:*`, 'COUNT', 1000);
  return keys;
};

describe('BlobStore in Redis', () => {
  it('keeps inputs and stills for STORAGE_TTL_DAYS and a result video for RESULT_TTL_HOURS', async () => {
    await redisOnly.put('input-1', Buffer.from('png'), 'image/png');
    await redisOnly.put('result-1', Buffer.from('mp4'), 'video/mp4', { lifetime: 'result' });
    const ttl = (name: string) => redis.ttl(`${prefix}:blob:${name}:meta`);
    expect(await ttl('input-1')).toBeGreaterThan(DAYS_30 - 60);
    expect(await ttl('result-1')).toBeGreaterThan(HOURS_24 - 60);
    expect(await ttl('result-1')).toBeLessThanOrEqual(HOURS_24);
    expect((await redisOnly.read('result-1'))?.toString()).toBe('mp4');
    expect(redisOnly.usesObjectStorage).toBe(false);
  });
});

describe('files announced before they exist', () => {
  it('makes a reader wait for an announced file, and answer at once for one that is not', async () => {
    await redisOnly.expect(['poster-1', 'last-frame-1'], 30);
    let read: Buffer | undefined;
    const reading = redisOnly.read('last-frame-1').then((bytes) => {
      read = bytes;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(read).toBeUndefined();
    await redisOnly.put('last-frame-1', Buffer.from('png'), 'image/png');
    await reading;
    expect(read?.toString()).toBe('png');
    expect(await redisOnly.meta('never-announced')).toBeUndefined();
  });

  it('lets readers go when an announced file will not come', async () => {
    await redisOnly.expect(['poster-2'], 30);
    const reading = redisOnly.meta('poster-2');
    await redisOnly.unexpect(['poster-2']);
    expect(await reading).toBeUndefined();
    await redisOnly.expect(['poster-3'], 1);
    expect(await redisOnly.open('poster-3')).toBeUndefined();
  });
});

describe.skipIf(!withBucket)(
  skipReason ? `BlobStore with a bucket (skipped: ${skipReason})` : 'BlobStore with a bucket (s3rver)',
  () => {
    it('puts every new file, results included, in the bucket and none in Redis', async () => {
      await withBucket!.put('result-2', Buffer.from('video bytes'), 'video/mp4', { lifetime: 'result' });
      await withBucket!.put('input-2', Buffer.from('image bytes'), 'image/png');
      expect(await redisKeys('result-2')).toEqual([]);
      expect(await redisKeys('input-2')).toEqual([]);
      expect((await withBucket!.read('result-2'))?.toString()).toBe('video bytes');
      expect(await withBucket!.meta('input-2')).toEqual({ bytes: 11, contentType: 'image/png' });
      expect(await withBucket!.keep('result-2', 3_600)).toBe(true);
      await withBucket!.delete('result-2');
      expect(await withBucket!.open('result-2')).toBeUndefined();
    });

    it('still reads, keeps and deletes files stored in Redis before the bucket was configured', async () => {
      await redisOnly.put('input-old', Buffer.from('from before'), 'image/png');
      expect((await withBucket!.read('input-old'))?.toString()).toBe('from before');
      expect(await withBucket!.keep('input-old', 3_600)).toBe(true);
      await withBucket!.delete('input-old');
      expect(await redisKeys('input-old')).toEqual([]);
      expect(await withBucket!.open('input-old')).toBeUndefined();
    });
  },
);
