/**
 * `npx tsx bench/storage.ts [MiB=20] [rounds=5] [chunkKiB=256]`
 * Stored-file throughput against the Redis on REDIS_URL: writing a file through the BlobStore (as
 * the worker stores a result, from a stream of 64 KiB pieces) and reading it back as a stream (as
 * the bot does to post it), next to one raw Redis SET and GET of the same bytes in the same run.
 * Prints the medians and their ratio (the target is at least 50 % of raw Redis); asserts nothing.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { BlobStore } from '../src/storage/blobs.js';
import { deleteKeysUnder } from '../src/storage/keys.js';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 20) * MiB;
const rounds = Number(process.argv[3] ?? 5);
const chunkBytes = Number(process.argv[4] ?? 256) * 1024;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `kinema-bench-${randomUUID().slice(0, 8)}`;

const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
const blobs = new BlobStore(redis, { prefix, ttlSeconds: 600, chunkBytes });
const data = randomBytes(size);

async function* pieces(bytes: Buffer, piece = 64 * 1024) {
  for (let offset = 0; offset < bytes.length; offset += piece) yield bytes.subarray(offset, offset + piece);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mbps = (ms: number) => size / MiB / (ms / 1000);

const samples = { rawSet: [] as number[], rawGet: [] as number[], put: [] as number[], read: [] as number[] };
for (let round = 0; round < rounds; round += 1) {
  const rawKey = `${prefix}:raw`;
  samples.rawSet.push(await timed(() => redis.set(rawKey, data, 'EX', 600)));
  samples.rawGet.push(
    await timed(async () => {
      const got = await redis.getBuffer(rawKey);
      if (got?.length !== size) throw new Error('raw GET returned the wrong size');
    }),
  );
  await redis.del(rawKey);
  const name = `bench-${round}`;
  samples.put.push(await timed(() => blobs.putStream(name, pieces(data), 'video/mp4')));
  samples.read.push(
    await timed(async () => {
      const opened = await blobs.open(name);
      let bytes = 0;
      for await (const chunk of opened!.stream) bytes += (chunk as Buffer).length;
      if (bytes !== size) throw new Error('stored read returned the wrong size');
    }),
  );
  await blobs.delete(name);
}

const row = (label: string, stored: number[], raw: number[]) => {
  const storedMbps = mbps(median(stored));
  const rawMbps = mbps(median(raw));
  return `${label}: stored ${storedMbps.toFixed(0)} MB/s, raw Redis ${rawMbps.toFixed(0)} MB/s, ratio ${((storedMbps / rawMbps) * 100).toFixed(0)} %`;
};
console.log(
  `file: ${size / MiB} MiB, chunks of ${chunkBytes / 1024} KiB, median of ${rounds} rounds (MB = MiB)`,
);
console.log(row('write (putStream vs SET)', samples.put, samples.rawSet));
console.log(row('read  (open+stream vs GET)', samples.read, samples.rawGet));

await deleteKeysUnder(redis, prefix);
await redis.quit();
