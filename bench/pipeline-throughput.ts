/**
 * `npx tsx bench/pipeline-throughput.ts [jobs=200] [concurrency=8]`
 * How fast the queue itself moves jobs (enqueue, progress writes, result storage, delivery) with a
 * backend that renders instantly, against the Redis on REDIS_URL. Prints figures; asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Worker } from 'bullmq';
import type { BackendEvent, VideoBackend } from '../src/backends/backend.js';
import type { DeliveryJobData } from '../src/core/job.js';
import { finaliseRequest } from '../src/core/request.js';
import { createLogger } from '../src/log.js';
import { Pipeline } from '../src/pipeline.js';
import { deleteKeysUnder } from '../src/storage/keys.js';

const jobs = Number(process.argv[2] ?? 200);
const concurrency = Number(process.argv[3] ?? 8);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `kinema-bench-${randomUUID().slice(0, 8)}`;
const video = Buffer.alloc(2 * 1024 * 1024, 7);

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
    return { stream: Readable.from([video]) };
  },
};

const pipeline = new Pipeline({ redisUrl, prefix, log: createLogger('silent') });
let delivered = 0;
let allDelivered: () => void;
const done = new Promise<void>((resolve) => {
  allDelivered = resolve;
});
// A Worker never closes a connection it was given, so the bench keeps it to close it at the end.
const deliveryConnection = pipeline.connection.duplicate();
const deliveries = new Worker<DeliveryJobData>(
  'deliver-bench',
  async () => {
    delivered += 1;
    if (delivered === jobs) allDelivered();
  },
  { connection: deliveryConnection, prefix, concurrency: 16 },
);

const image = await pipeline.inputs.save({
  bytes: Buffer.alloc(200_000, 1),
  contentType: 'image/png',
  width: 832,
  height: 480,
  filename: 'bench.png',
});
const request = finaliseRequest({ prompt: 'bench' }, { input_image: image }, 'wan2.1');

const enqueueStart = performance.now();
for (let index = 0; index < jobs; index += 1) {
  await pipeline.queue.enqueue(`bench-${index}`, {
    request,
    requester: { platform: 'bench', userId: 'u' },
    reportTo: { platform: 'bench' },
    deliverVia: 'deliver-bench',
    createdAt: Date.now(),
    notes: [],
  });
}
const enqueueMs = performance.now() - enqueueStart;

const runStart = performance.now();
await pipeline.startWorker(
  instant,
  async (input, output) => {
    await copyFile(input, output);
    return { bytes: (await stat(output)).size };
  },
  { concurrency, progressIntervalMs: 0 },
);
await done;
const runMs = performance.now() - runStart;

console.log(`jobs: ${jobs}, worker concurrency: ${concurrency}, result size: ${video.length / 1048576} MiB`);
console.log(`enqueue: ${(jobs / (enqueueMs / 1000)).toFixed(0)} jobs/s (${enqueueMs.toFixed(0)} ms)`);
console.log(
  `process + store + deliver: ${(jobs / (runMs / 1000)).toFixed(1)} jobs/s (${runMs.toFixed(0)} ms)`,
);

await deliveries.close();
await deliveryConnection.quit();
await pipeline.queue.queue.obliterate({ force: true });
await deleteKeysUnder(pipeline.connection, prefix);
await pipeline.close();
