import { copyFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeliveryJobData } from '../../src/core/job.js';
import { finaliseRequest } from '../../src/core/request.js';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import { GENERATE_QUEUE } from '../../src/queue/connection.js';
import { DeliveryWorker } from '../../src/queue/delivery.js';
import { RedisOutage } from '../../src/queue/redis-outage.js';
import { waitFor } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';
import { ScriptedBackend } from '../support/scripted-backend.js';
import { type ScriptedService, startScriptedService } from '../support/scripted-service.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * One process with everything that holds a Redis connection in `KINEMA_ROLE=all` (queue, storage,
 * generation worker, cancel listener, queue events, a delivery worker), reaching Redis through a
 * relay the test cuts and restores.
 */
const DELIVER = 'deliver-outage';
const target = new URL(TEST_REDIS_URL);
const proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
const redis = testRedis();
const prefix = uniquePrefix('outage');
const logged: { level: number; msg: string; downForSeconds?: number }[] = [];
const log = createLogger('info', 'outage-test', {
  write: (line: string) => logged.push(JSON.parse(line)),
} as unknown as NodeJS.WritableStream);
const delivered: DeliveryJobData[] = [];
let service: ScriptedService;
let pipeline: Pipeline;
let events: QueueEvents;
let deliveries: DeliveryWorker;

beforeAll(async () => {
  await proxy.listen();
  service = await startScriptedService({ video: Buffer.from('a video'), steps: 2, stepMs: 10 });
  pipeline = new Pipeline({ redisUrl: `redis://127.0.0.1:${proxy.port}`, prefix, log, backoffMs: 50 });
  await pipeline.startWorker(
    new ScriptedBackend(service.url),
    async (input, output) => {
      await copyFile(input, output);
      return { bytes: (await stat(output)).size };
    },
    { progressIntervalMs: 0 },
  );
  events = new QueueEvents(GENERATE_QUEUE, { connection: pipeline.connection.duplicate(), prefix });
  await events.waitUntilReady();
  deliveries = new DeliveryWorker(
    pipeline.connection.duplicate(),
    prefix,
    DELIVER,
    async (delivery) => {
      delivered.push(delivery);
    },
    log,
  );
});

afterAll(async () => {
  vi.useRealTimers();
  await proxy.listen().catch(() => undefined);
  await deliveries?.close();
  await events?.close();
  await pipeline?.close();
  await proxy.cut();
  await service?.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

const linesAfter = (start: number) => logged.slice(start).map((line) => line.msg);

describe('a Redis outage', () => {
  it('is logged once when it starts, once a minute while it lasts, and once when Redis is back', async () => {
    const failures = vi.spyOn(RedisOutage.prototype, 'connectionFailed');
    const printed = vi.spyOn(console, 'error');
    const start = logged.length;

    await proxy.cut();
    await waitFor(() => logged.length > start, 'the outage to be logged');
    // Let every connection fail again and again: the window is counted in failures, not seconds.
    await waitFor(() => failures.mock.calls.length >= 25, '25 connection failures');
    expect(linesAfter(start)).toEqual([
      'Redis is unreachable; waiting for it (repeated once a minute until it is back)',
    ]);

    // A minute later (on the clock the outage reads), the next failure says how long it has been.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61_000 });
    const beforeRepeat = failures.mock.calls.length;
    await waitFor(() => logged.length > start + 1, 'the once-a-minute line');
    const repeat = logged.at(-1);
    expect(repeat?.msg).toMatch(/^Redis is still unreachable, for 6\d s now$/);
    expect(repeat?.downForSeconds).toBeGreaterThanOrEqual(61);
    // Only the first failure after the minute spoke; those that follow are quiet again.
    await waitFor(() => failures.mock.calls.length >= beforeRepeat + 10, '10 more connection failures');
    expect(linesAfter(start)).toHaveLength(2);
    vi.useRealTimers();

    await proxy.listen();
    await waitFor(() => logged.length > start + 2, 'the line saying Redis is back');
    expect(logged.at(-1)?.msg).toMatch(/^Redis is back after \d+ s$/);
    expect(logged.at(-1)?.downForSeconds).toEqual(expect.any(Number));
    expect(linesAfter(start)).toHaveLength(3);
    // Nothing was printed around the logger either (BullMQ and ioredis print errors nobody handles).
    expect(printed).not.toHaveBeenCalled();
    failures.mockRestore();
    printed.mockRestore();
  });

  it('lets a delivery worker and queue events close while Redis is unreachable', async () => {
    const connection = pipeline.connection.duplicate();
    const worker = new DeliveryWorker(connection, prefix, 'deliver-closing', async () => undefined, log);
    const watching = new QueueEvents(GENERATE_QUEUE, { connection: connection.duplicate(), prefix });
    await watching.waitUntilReady();
    const start = logged.length;
    await proxy.cut();
    try {
      await waitFor(() => logged.length > start, 'the outage to be logged');
      // Both used to wait for Redis to come back before closing.
      const closing = Promise.all([worker.close(), watching.close(), connection.quit()]);
      expect(await Promise.race([closing.then(() => 'closed'), sleep(10_000, 'still closing')])).toBe(
        'closed',
      );
    } finally {
      await proxy.listen();
    }
    await waitFor(() => logged.at(-1)?.msg.startsWith('Redis is back'), 'Redis to be back');
  });

  it('leaves every connection working once Redis is back', async () => {
    const image = await pipeline.inputs.save({
      bytes: Buffer.from('png bytes'),
      contentType: 'image/png',
      width: 64,
      height: 64,
      filename: 'cat.png',
    });
    await pipeline.queue.enqueue('after-outage', {
      request: finaliseRequest({ prompt: 'after the outage' }, { input_image: image }, 'wan2.1'),
      requester: { platform: 'test', userId: 'u1' },
      reportTo: { platform: 'test' },
      deliverVia: DELIVER,
      createdAt: Date.now(),
      notes: [],
    });
    const delivery = await waitFor(
      () => delivered.find((item) => item.jobId === 'after-outage'),
      'the job to be rendered and delivered',
    );
    expect(delivery.outcome.kind).toBe('succeeded');
  });
});
