import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import type { AccessRules, Origin } from '../../src/service/checks.js';
import type { CommunityEnv } from '../../src/service/community.js';
import { GenerationService } from '../../src/service/generation-service.js';
import { QUOTA_WINDOW_MS, Quotas } from '../../src/service/quotas.js';
import { RefusedError } from '../../src/service/refusals.js';
import { copyPreparer } from '../support/copy-preparer.js';
import { makePng } from '../support/media.js';
import { waitFor } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';
import { ScriptedBackend } from '../support/scripted-backend.js';
import { type ScriptedService, startScriptedService } from '../support/scripted-service.js';

/** Daily quotas on the real Redis: atomic under bursts, counted at submission, relax mode last. */
const redis = testRedis();
const log = createLogger('silent');
const OPEN: AccessRules = { directMessages: 'allow', servers: [], channels: [], roles: [] };
let png: Buffer;
let render: ScriptedService;

interface World {
  prefix: string;
  pipeline: Pipeline;
  service: GenerationService;
}
const worlds: World[] = [];

/** A pipeline and a service with these community settings, under their own prefix. */
function world(env: CommunityEnv): World {
  const prefix = uniquePrefix('quotas');
  const full = { MODERATION_IMAGES: false, MAX_ACTIVE_PER_USER: 20, MAX_QUEUED_PER_USER: 50, ...env };
  const pipeline = new Pipeline({
    redisUrl: TEST_REDIS_URL,
    prefix,
    log,
    backoffMs: 50,
    community: { env: full, defaultModel: 'wan2.1' },
  });
  const service = new GenerationService(pipeline.serviceDeps(), {
    defaultModel: 'wan2.1',
    limits: { maxRunningPerUser: 20, maxWaitingPerUser: 50 },
    maxInputBytes: 1024 * 1024,
    community: full,
  });
  const made = { prefix, pipeline, service };
  worlds.push(made);
  return made;
}

const origin = (userId: string, server = 'guild-1'): Origin => ({
  requester: { platform: 'test', userId, scopeId: server },
  place: { channelId: 'c1', serverId: server, isDirectMessage: false },
  access: OPEN,
});

const submit = (w: World, jobId: string, userId: string, server?: string) =>
  w.service.submit({
    jobId,
    settings: { prompt: jobId },
    images: { input_image: { bytes: png, filename: 'x.png' } },
    origin: origin(userId, server),
    reportTo: { platform: 'test' },
  });

const startWorker = (w: World) =>
  w.pipeline.startWorker(new ScriptedBackend(render.url, 10), copyPreparer, {
    concurrency: 1,
    lockDurationMs: 1_500,
    stalledIntervalMs: 1_000,
    progressIntervalMs: 0,
  });

beforeAll(async () => {
  png = await makePng(64, 64);
  render = await startScriptedService({ video: Buffer.from('mp4'), steps: 2, stepMs: 10 });
});

afterEach(() => {
  render.holdNewTasks(false);
  render.release();
});

afterAll(async () => {
  for (const { pipeline, prefix } of worlds) {
    await pipeline.queue.queue.obliterate({ force: true });
    await pipeline.close();
    await cleanPrefix(redis, prefix);
  }
  await render.close();
  await redis.quit();
});

describe('quotas', () => {
  it('lets exactly the quota through when 50 reservations race each other', async () => {
    const prefix = uniquePrefix('quota-race');
    const quotas = new Quotas(redis, prefix);
    const limits = { person: 0, server: 5, total: 0 };
    const verdicts = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        quotas.reserve({ platform: 'test', userId: `u${i}`, scopeId: 'g' }, `job-${i}`, limits),
      ),
    );
    expect(verdicts.filter((verdict) => verdict.ok)).toHaveLength(5);
    const refused = verdicts.find((verdict) => !verdict.ok);
    expect(refused).toMatchObject({ ok: false, scope: 'server', used: 0, reserved: 5, limit: 5 });
    await cleanPrefix(redis, prefix);
  });

  it('holds a server quota against a burst of requests from different people, and refuses the rest with when it frees up', async () => {
    const w = world({ QUOTA_PER_SERVER_PER_DAY: 5 });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => submit(w, `burst-${i}`, `person-${i}`)),
    );
    const accepted = results.filter((result) => result.status === 'fulfilled');
    const refusals = results.flatMap((result) =>
      result.status === 'rejected' && result.reason instanceof RefusedError ? [result.reason.refusal] : [],
    );
    expect(accepted).toHaveLength(5);
    expect(refusals).toHaveLength(15);
    expect(refusals[0]).toMatchObject({ reason: 'over-quota', scope: 'server', limit: 5 });
    expect(await w.pipeline.queue.queue.getJobCountByTypes('waiting', 'prioritized')).toBe(5);
    // Another server is not held to this one's quota.
    await expect(submit(w, 'elsewhere-1', 'person-x', 'guild-2')).resolves.toMatchObject({
      duplicate: false,
    });
  });

  it('counts a video from its submission for 24 hours; a job cancelled while waiting costs nothing', async () => {
    const w = world({ QUOTA_PER_USER_PER_DAY: 2 });
    await submit(w, 'count-1', 'counted');
    await submit(w, 'count-2', 'counted');
    await expect(submit(w, 'count-3', 'counted')).rejects.toMatchObject({
      refusal: { reason: 'over-quota', scope: 'person', used: 0, reserved: 2 },
    });
    // Cancelled while waiting: its reservation goes, and the next request fits.
    expect(await w.service.cancel('count-2', { userId: 'counted', canModerate: false })).toBe('removed');
    await submit(w, 'count-4', 'counted');

    const before = Date.now();
    await startWorker(w);
    await waitFor(
      async () => (await w.pipeline.queue.queue.getJobCountByTypes('completed')) >= 2,
      'both jobs to finish',
    );
    const status = await w.service.members.quotaOf(origin('counted').requester);
    expect(status.lines.person).toMatchObject({ limit: 2, used: 2, reserved: 0, left: 0 });
    expect(status.lines.person.freesAt).toBeGreaterThanOrEqual(before + QUOTA_WINDOW_MS);
    expect(status.lines.person.freesAt).toBeLessThanOrEqual(Date.now() + QUOTA_WINDOW_MS);
    const refused = await submit(w, 'count-5', 'counted').catch((error: RefusedError) => error.refusal);
    expect(refused).toMatchObject({ reason: 'over-quota', scope: 'person', used: 2, reserved: 0 });
    expect((refused as { freesAt: number }).freesAt).toBe(Math.ceil(status.lines.person.freesAt! / 1000));
  });

  it('queues jobs over quota in relax mode, behind everyone within quota, and does not count them', async () => {
    // A's server gives each person one video a day; B's server has no quota.
    const w = world({ QUOTA_OVERFLOW: 'relax' });
    await w.service.community.settings.set('test:guild-1', 'quota_per_user_per_day', '1');
    render.holdNewTasks(true);
    await startWorker(w);
    const a1 = await submit(w, 'relax-A1', 'A');
    await waitFor(() => render.tasks().length >= 1, 'A1 to start');
    const a2 = await submit(w, 'relax-A2', 'A');
    const a3 = await submit(w, 'relax-A3', 'A');
    for (const n of [1, 2, 3, 4])
      expect((await submit(w, `relax-B${n}`, 'B', 'guild-2')).relaxed).toBeUndefined();
    expect(a1.relaxed).toBeUndefined();
    expect([a2.relaxed, a3.relaxed]).toEqual([true, true]);
    expect(a2.notice).toMatch(/relax mode/);
    expect((await w.pipeline.queue.queue.getJob('relax-A2'))?.data.fairShare?.band).toBe('relax');

    // Within quota, A2 would take its turn between B1 and B2; relaxed, it waits for all of B's.
    const expected = ['B1', 'B2', 'B3', 'B4', 'A2', 'A3'];
    const order = [...(await w.pipeline.queue.positions()).entries()]
      .sort(([, x], [, y]) => x.position - y.position)
      .map(([jobId]) => jobId.replace('relax-', ''));
    expect(order).toEqual(expected);

    const firstTask = render.tasks().length - 1;
    render.holdNewTasks(false);
    render.release();
    await waitFor(
      async () => (await w.pipeline.queue.queue.getJobCountByTypes('completed')) >= 7,
      'every job to finish',
    );
    const started: string[] = [];
    for (const id of ['A1', ...expected]) {
      const taskId = (await w.pipeline.queue.queue.getJob(`relax-${id}`))?.data.remote?.taskId;
      started[render.tasks().findIndex((task) => task.id === taskId) - firstTask] = id;
    }
    expect(started).toEqual(['A1', ...expected]);
    // Relaxed videos do not count: A has used one video of the day, not three.
    const usage = await w.service.members.quotaOf(origin('A').requester);
    expect(usage.lines.person).toMatchObject({ limit: 1, used: 1, reserved: 0, left: 0 });
    expect(usage.overflow).toBe('relax');
  });
});
