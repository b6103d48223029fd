import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobTooLargeError } from '../../src/storage/file-store.js';
import { RedisFileStore } from '../../src/storage/redis-files.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../support/redis.js';

const redis = testRedis();
let prefix: string;
let store: RedisFileStore;
const CHUNK = 64 * 1024;
const TTL = 3_600;

async function* pieces(data: Buffer, size: number) {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

async function readAll(stream: AsyncIterable<unknown>): Promise<{ bytes: Buffer; reads: number }> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return { bytes: Buffer.concat(parts), reads: parts.length };
}

async function keysUnder(name: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:blob:${name}:*`, 'COUNT', 500);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys;
}

beforeAll(() => {
  prefix = uniquePrefix('files');
  store = new RedisFileStore(redis, { prefix, chunkBytes: CHUNK, window: 4 });
});

afterAll(async () => {
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('RedisFileStore', () => {
  it('stores a file of many chunks from odd-sized pieces and streams it back chunk by chunk', async () => {
    const data = randomBytes(20 * CHUNK + 123);
    const meta = await store.putStream('big', pieces(data, 10_007), 'video/mp4', { ttlSeconds: TTL });
    expect(meta).toEqual({ bytes: data.length, contentType: 'video/mp4' });
    const opened = await store.open('big');
    expect(opened?.meta).toEqual(meta);
    const { bytes, reads } = await readAll(opened!.stream);
    expect(bytes.equals(data)).toBe(true);
    // Streamed, never as one buffer: one read per stored chunk.
    expect(reads).toBe(21);
    // One key per chunk plus the meta key; no list.
    expect((await keysUnder('big')).length).toBe(22);
  });

  it('stores an empty file', async () => {
    await store.putStream('empty', pieces(Buffer.alloc(0), 1), 'text/plain', { ttlSeconds: TTL });
    const { bytes } = await readAll((await store.open('empty'))!.stream);
    expect(bytes.length).toBe(0);
    expect(await store.meta('empty')).toEqual({ bytes: 0, contentType: 'text/plain' });
  });

  it('shows a file only once it is completely written, and the old one until then', async () => {
    const old = randomBytes(3 * CHUNK);
    await store.putStream('swap', pieces(old, CHUNK), 'video/mp4', { ttlSeconds: TTL });
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const fresh = randomBytes(5 * CHUNK);
    async function* slowSource() {
      yield fresh.subarray(0, 3 * CHUNK);
      await paused;
      yield fresh.subarray(3 * CHUNK);
    }
    const writing = store.putStream('swap', slowSource(), 'video/mp4', { ttlSeconds: TTL });
    const newOnly = store.putStream('new-file', slowSource(), 'video/mp4', { ttlSeconds: TTL });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A reader that started on the old file keeps reading it even after the new one lands.
    const onOld = await store.open('swap');
    expect(onOld?.meta.bytes).toBe(old.length);
    expect(await store.open('new-file')).toBeUndefined();
    resume();
    await Promise.all([writing, newOnly]);
    expect((await readAll(onOld!.stream)).bytes.equals(old)).toBe(true);
    expect((await readAll((await store.open('swap'))!.stream)).bytes.equals(fresh)).toBe(true);
    expect((await readAll((await store.open('new-file'))!.stream)).bytes.equals(fresh)).toBe(true);
  });

  it('gives every chunk the TTL plus a little, so the meta key always expires first', async () => {
    await store.putStream('ttl', pieces(randomBytes(2 * CHUNK), CHUNK), 'image/png', { ttlSeconds: 600 });
    const keys = await keysUnder('ttl');
    const metaTtl = await redis.ttl(`${prefix}:blob:ttl:meta`);
    expect(metaTtl).toBeGreaterThan(590);
    expect(metaTtl).toBeLessThanOrEqual(600);
    for (const key of keys.filter((k) => !k.endsWith(':meta'))) {
      expect(await redis.ttl(key)).toBeGreaterThan(metaTtl);
    }
  });

  it('refuses a source over maxBytes and leaves nothing behind', async () => {
    const data = randomBytes(10 * CHUNK);
    await expect(
      store.putStream('toolarge', pieces(data, 5_000), 'video/mp4', { ttlSeconds: TTL, maxBytes: 6 * CHUNK }),
    ).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(await keysUnder('toolarge')).toEqual([]);
  });

  it('fails the stream, not silently, when a file disappears while it is read', async () => {
    await store.putStream('vanish', pieces(randomBytes(30 * CHUNK), CHUNK), 'video/mp4', { ttlSeconds: TTL });
    const opened = await store.open('vanish');
    await store.delete('vanish');
    await expect(readAll(opened!.stream)).rejects.toThrow(/incomplete/);
    expect(await keysUnder('vanish')).toEqual([]);
  });

  it('keeps a file past its TTL and out of deleteUnlessKept when asked', async () => {
    await store.putStream('linked', pieces(randomBytes(2 * CHUNK), CHUNK), 'video/mp4', { ttlSeconds: 60 });
    await store.putStream('plain', pieces(randomBytes(2 * CHUNK), CHUNK), 'video/mp4', { ttlSeconds: 60 });
    expect(await store.keep('linked', 7_200)).toBe(true);
    expect(await store.keep('never-stored', 7_200)).toBe(false);
    for (const key of await keysUnder('linked')) expect(await redis.ttl(key)).toBeGreaterThan(7_000);

    expect(await store.deleteUnlessKept('linked')).toBe(false);
    expect(await store.deleteUnlessKept('plain')).toBe(true);
    expect(await store.meta('linked')).toBeDefined();
    expect(await keysUnder('plain')).toEqual([]);
  });

  it('reads files stored as one list by earlier versions', async () => {
    const parts = [randomBytes(1000), randomBytes(1000), randomBytes(17)];
    await redis.rpush(`${prefix}:blob:legacy:data`, ...parts);
    await redis.set(
      `${prefix}:blob:legacy:meta`,
      JSON.stringify({ bytes: 2017, contentType: 'image/png', chunks: 3 }),
      'EX',
      60,
    );
    const { bytes } = await readAll((await store.open('legacy'))!.stream);
    expect(bytes.equals(Buffer.concat(parts))).toBe(true);
    await store.delete('legacy');
    expect(await keysUnder('legacy')).toEqual([]);
  });
});
