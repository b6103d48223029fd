/**
 * `npm run bench:throughput [-- jobs=500 concurrency=8 MiB=20 rounds=5]`
 * Two ratios against the Redis on REDIS_URL, measured in the same run (unique key prefixes):
 *  1. the queue path (enqueue, progress writes, result storage, hand-off to delivery, delivery)
 *     with an instant backend and a tiny result, next to raw BullMQ `add` + a no-op `Worker` with
 *     the same concurrency and job data;
 *  2. stored-file throughput: writing a file through the BlobStore (as the worker stores a result,
 *     from 64 KiB pieces) and reading it back as a stream (as the bot does to post it), next to one
 *     raw Redis SET and GET of the same bytes.
 * Prints figures and their ratios (targets: at least 50 % of raw); asserts nothing.
 * (Folds the former bench/pipeline-throughput.ts, which never exited, and bench/storage.ts.)
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { BackendEvent, VideoBackend } from '../src/backends/backend.js';
import type { DeliveryJobData, GenerationJobData } from '../src/core/job.js';
import { finaliseRequest } from '../src/core/request.js';
import { createLogger } from '../src/log.js';
import { Pipeline } from '../src/pipeline.js';
import { BlobStore } from '../src/storage/blobs.js';
import { deleteKeysUnder } from '../src/storage/keys.js';
import { copyPreparer } from '../test/support/copy-preparer.js';
import { median } from './figures.js';

const jobs = Number(process.argv[2] ?? 500);
const concurrency = Number(process.argv[3] ?? 8);
const MiB = 1024 * 1024;
const fileSize = Number(process.argv[4] ?? 20) * MiB;
const rounds = Number(process.argv[5] ?? 5);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const runId = randomUUID().slice(0, 8);
const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });

// ---- 1. the queue path vs raw BullMQ ----------------------------------------------------------

/** Renders instantly: three progress events, then a 1 KiB result. */
const tinyResult = Buffer.alloc(1024, 7);
const instant: VideoBackend = {
  name: 'instant',
  describeIgnored: () => [],
  async submit(_job, hooks) {
    const ref = {
      backend: 'instant',
      state: 'submitted' as const,
      taskId: randomUUID(),
      submittedAt: Date.now(),
    };
    await hooks.persist(ref);
    return ref;
  },
  async *follow(): AsyncIterable<BackendEvent> {
    for (const percent of [25, 50, 75]) yield { type: 'progress', progress: { phase: 'running', percent } };
    yield { type: 'completed', output: { location: 'memory' } };
  },
  async cancel() {},
  async download() {
    return { stream: Readable.from([tinyResult]) };
  },
};

/** Resolves when `count` calls were made. */
function counter(count: number) {
  let seen = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  return {
    all,
    tick() {
      seen += 1;
      if (seen === count) done();
    },
  };
}

async function pipelineRun() {
  const prefix = `kinema-bench-${runId}-pipe`;
  const pipeline = new Pipeline({ redisUrl, prefix, log: createLogger('silent') });
  const delivered = counter(jobs);
  // A Worker never closes a connection it was given: keep it to close it at the end.
  const deliveryConnection = pipeline.connection.duplicate();
  const deliveries = new Worker<DeliveryJobData>('deliver-bench', async () => delivered.tick(), {
    connection: deliveryConnection,
    prefix,
    concurrency: 16,
  });
  const image = await pipeline.inputs.save({
    bytes: Buffer.alloc(200_000, 1),
    contentType: 'image/png',
    width: 832,
    height: 480,
    filename: 'bench.png',
  });
  const request = finaliseRequest({ prompt: 'bench' }, { input_image: image }, 'wan2.1');
  const data = (index: number): GenerationJobData => ({
    request,
    requester: { platform: 'bench', userId: `u${index % 10}` },
    reportTo: { platform: 'bench' },
    deliverVia: 'deliver-bench',
    createdAt: Date.now(),
    notes: [],
  });
  const start = performance.now();
  for (let index = 0; index < jobs; index += 1) await pipeline.queue.enqueue(`bench-${index}`, data(index));
  const enqueueMs = performance.now() - start;
  const worker = await pipeline.startWorker(instant, copyPreparer, { concurrency, progressIntervalMs: 0 });
  await delivered.all;
  const totalMs = performance.now() - start;
  await worker.close();
  await deliveries.close();
  await deliveryConnection.quit();
  await pipeline.queue.queue.obliterate({ force: true });
  await pipeline.close();
  await deleteKeysUnder(redis, prefix);
  return { enqueueMs, totalMs, data: data(0) };
}

async function rawBullmqRun(data: GenerationJobData) {
  const prefix = `kinema-bench-${runId}-raw`;
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('raw', { connection, prefix });
  const processed = counter(jobs);
  const start = performance.now();
  for (let index = 0; index < jobs; index += 1) await queue.add('raw', data, { jobId: `raw-${index}` });
  const enqueueMs = performance.now() - start;
  const workerConnection = connection.duplicate();
  const worker = new Worker('raw', async () => processed.tick(), {
    connection: workerConnection,
    prefix,
    concurrency,
  });
  await processed.all;
  const totalMs = performance.now() - start;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await workerConnection.quit();
  await connection.quit();
  await deleteKeysUnder(redis, prefix);
  return { enqueueMs, totalMs };
}

/** Commands Redis has processed so far (every client's, so this bench should run alone). */
async function commandsProcessed(): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);
}
/** Calls per Redis command so far (every client's). */
async function commandCalls(): Promise<Map<string, number>> {
  const stats = await redis.info('commandstats');
  return new Map([...stats.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}
let before = await commandsProcessed();
const callsBefore = await commandCalls();
const piped = await pipelineRun();
const pipedCommands = (await commandsProcessed()) - before;
const callsAfter = await commandCalls();
const busiest = [...callsAfter]
  .map(([name, calls]) => [name, (calls - (callsBefore.get(name) ?? 0)) / jobs] as const)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 6)
  .map(([name, perJob]) => `${name} ${perJob.toFixed(0)}`)
  .join(', ');
before = await commandsProcessed();
const raw = await rawBullmqRun(piped.data);
const rawCommands = (await commandsProcessed()) - before;
const rate = (ms: number) => jobs / (ms / 1000);
console.log(`queue path: ${jobs} jobs, worker concurrency ${concurrency}, result ${tinyResult.length} B`);
console.log(
  `  pipeline  : enqueue ${rate(piped.enqueueMs).toFixed(0)} jobs/s, enqueue → all delivered ${rate(piped.totalMs).toFixed(0)} jobs/s`,
);
console.log(
  `  raw BullMQ: add ${rate(raw.enqueueMs).toFixed(0)} jobs/s, add → all processed ${rate(raw.totalMs).toFixed(0)} jobs/s`,
);
console.log(
  `  Redis commands per job: pipeline ${(pipedCommands / jobs).toFixed(0)} (${busiest}), raw BullMQ ${(rawCommands / jobs).toFixed(0)}`,
);
console.log(`  ratio (end to end): ${((raw.totalMs / piped.totalMs) * 100).toFixed(1)} % of raw BullMQ`);

// ---- 2. stored files vs raw SET/GET ------------------------------------------------------------

const filePrefix = `kinema-bench-${runId}-files`;
const blobs = new BlobStore(redis, { prefix: filePrefix, ttlSeconds: 600 });
const file = randomBytes(fileSize);

async function* pieces(bytes: Buffer, piece = 64 * 1024) {
  for (let offset = 0; offset < bytes.length; offset += piece) yield bytes.subarray(offset, offset + piece);
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

const samples = { rawSet: [] as number[], rawGet: [] as number[], put: [] as number[], read: [] as number[] };
for (let round = 0; round < rounds; round += 1) {
  const rawKey = `${filePrefix}:raw`;
  samples.rawSet.push(await timed(() => redis.set(rawKey, file, 'EX', 600)));
  samples.rawGet.push(
    await timed(async () => {
      const got = await redis.getBuffer(rawKey);
      if (got?.length !== fileSize) throw new Error('raw GET returned the wrong size');
    }),
  );
  await redis.del(rawKey);
  const name = `bench-${round}`;
  samples.put.push(await timed(() => blobs.putStream(name, pieces(file), 'video/mp4')));
  samples.read.push(
    await timed(async () => {
      const opened = await blobs.open(name);
      let bytes = 0;
      for await (const chunk of opened!.stream) bytes += (chunk as Buffer).length;
      if (bytes !== fileSize) throw new Error('stored read returned the wrong size');
    }),
  );
  await blobs.delete(name);
}
const mbps = (ms: number) => fileSize / MiB / (ms / 1000);
const row = (label: string, stored: number[], rawSamples: number[]) => {
  const storedMbps = mbps(median(stored));
  const rawMbps = mbps(median(rawSamples));
  return `  ${label}: stored ${storedMbps.toFixed(0)} MB/s, raw Redis ${rawMbps.toFixed(0)} MB/s, ratio ${((storedMbps / rawMbps) * 100).toFixed(0)} %`;
};
console.log(`stored files: ${fileSize / MiB} MiB, median of ${rounds} rounds (MB = MiB)`);
console.log(row('write (putStream vs SET)    ', samples.put, samples.rawSet));
console.log(row('read  (open + stream vs GET)', samples.read, samples.rawGet));

await deleteKeysUnder(redis, filePrefix);
await redis.quit();
