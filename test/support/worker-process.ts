/**
 * A worker in its own process, for tests that kill it: `tsx test/support/worker-process.ts`.
 * Configured by environment: REDIS_URL, KINEMA_PREFIX, SCRIPTED_SERVICE_URL, SHUTDOWN_GRACE_MS,
 * LOCK_DURATION_MS, STALLED_INTERVAL_MS.
 */
import { copyFile, stat } from 'node:fs/promises';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import { ScriptedBackend } from './scripted-backend.js';

const log = createLogger(process.env.LOG_LEVEL ?? 'silent', 'test-worker');
const pipeline = new Pipeline({
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.KINEMA_PREFIX ?? 'kinema-test',
  log,
  backoffMs: 100,
});

const copyPreparer = async (input: string, output: string) => {
  await copyFile(input, output);
  return { bytes: (await stat(output)).size };
};

await pipeline.startWorker(new ScriptedBackend(process.env.SCRIPTED_SERVICE_URL!), copyPreparer, {
  concurrency: Number(process.env.WORKER_CONCURRENCY ?? 1),
  lockDurationMs: Number(process.env.LOCK_DURATION_MS ?? 1_500),
  stalledIntervalMs: Number(process.env.STALLED_INTERVAL_MS ?? 1_000),
  shutdownGraceMs: Number(process.env.SHUTDOWN_GRACE_MS ?? 500),
  progressIntervalMs: 0,
});

const stop = async () => {
  await pipeline.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdout.write('ready\n');
