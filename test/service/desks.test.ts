import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import type { AdminActor } from '../../src/service/admin-desk.js';
import type { AccessRules, Origin } from '../../src/service/checks.js';
import { GenerationService } from '../../src/service/generation-service.js';
import type { ImageClassifier } from '../../src/service/moderation/index.js';
import { RefusedError } from '../../src/service/refusals.js';
import { copyPreparer } from '../support/copy-preparer.js';
import { makePng } from '../support/media.js';
import { waitFor } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';
import { ScriptedBackend } from '../support/scripted-backend.js';
import { type ScriptedService, startScriptedService } from '../support/scripted-service.js';

/**
 * The service's views for the commands (`service.members`, `service.admin`), on the real Redis with
 * a real worker: a person's jobs and quota, a server's queue, cancel by id, pauses, settings, the
 * audit log and spend; and moderation failing safe when the classifier cannot run.
 */
const redis = testRedis();
const log = createLogger('silent');
const prefix = uniquePrefix('desks');
const OPEN: AccessRules = { directMessages: 'allow', servers: [], channels: [], roles: [] };
const OWNER = 'U0OWNER';
const env = {
  MODERATION_IMAGES: false,
  MAX_ACTIVE_PER_USER: 5,
  MAX_QUEUED_PER_USER: 5,
  PRICE_TABLE: { 'wan2.1': 0.1 },
  PRICE_CURRENCY: 'EUR',
  BOT_OWNER_IDS: [`test:${OWNER}`],
  QUOTA_PER_USER_PER_DAY: 100,
};
let png: Buffer;
let render: ScriptedService;
let pipeline: Pipeline;
let service: GenerationService;

const origin = (userId: string, server = 'g1', channelId = 'c1'): Origin => ({
  requester: { platform: 'test', userId, displayName: `name-${userId}`, scopeId: server },
  place: { channelId, isDirectMessage: false, serverName: `Server ${server}` },
  access: OPEN,
});
const actor = (userId: string, server = 'g1', serverAdmin = true): AdminActor => ({
  platform: 'test',
  userId,
  displayName: `name-${userId}`,
  serverId: server,
  serverAdmin,
});

const submit = (jobId: string, userId: string, server = 'g1', to = service) =>
  to.submit({
    jobId,
    settings: { prompt: `prompt ${jobId}` },
    images: { input_image: { bytes: png, filename: 'x.png' } },
    origin: origin(userId, server),
    reportTo: { platform: 'test' },
  });

const finished = (jobId: string) =>
  waitFor(
    async () => (await pipeline.queue.queue.getJob(jobId))?.finishedOn !== undefined,
    `${jobId} to end`,
  );

beforeAll(async () => {
  png = await makePng(64, 64);
  render = await startScriptedService({ video: Buffer.from('mp4'), steps: 2, stepMs: 10 });
  pipeline = new Pipeline({
    redisUrl: TEST_REDIS_URL,
    prefix,
    log,
    backoffMs: 50,
    community: { env, defaultModel: 'wan2.1' },
  });
  service = new GenerationService(pipeline.serviceDeps(), {
    defaultModel: 'wan2.1',
    limits: { maxRunningPerUser: 5, maxWaitingPerUser: 5 },
    maxInputBytes: 1024 * 1024,
    community: env,
  });
  await pipeline.startWorker(new ScriptedBackend(render.url, 10), copyPreparer, {
    concurrency: 1,
    lockDurationMs: 1_500,
    stalledIntervalMs: 1_000,
    progressIntervalMs: 0,
  });
});

afterEach(async () => {
  render.holdNewTasks(false);
  render.release();
  await waitFor(async () => (await pipeline.queue.queue.getActiveCount()) === 0, 'an idle queue');
});

afterAll(async () => {
  await pipeline.queue.queue.obliterate({ force: true });
  await pipeline.close();
  await render.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe("a member's views", () => {
  it('lists a person’s jobs on every server: rendering with its phase, waiting with positions, recent outcomes', async () => {
    await submit('mine-done', 'ann');
    await finished('mine-done');
    render.holdNewTasks(true);
    await submit('mine-1', 'ann');
    await waitFor(async () => (await pipeline.queue.state('mine-1')) === 'active', 'mine-1 to render');
    await submit('theirs-1', 'bob');
    await submit('mine-2', 'ann', 'g2');

    const jobs = await service.members.jobsOf({ platform: 'test', userId: 'ann' });
    expect(jobs.rendering.map((job) => job.jobId)).toEqual(['mine-1']);
    expect(jobs.rendering[0]).toMatchObject({ prompt: 'prompt mine-1', model: 'wan2.1', relaxed: false });
    expect(jobs.waiting).toMatchObject([
      {
        jobId: 'mine-2',
        position: { position: 2, of: 2 },
        place: { serverId: 'g2', serverName: 'Server g2' },
      },
    ]);
    expect(jobs.recent[0]).toMatchObject({
      jobId: 'mine-done',
      outcome: 'succeeded',
      prompt: 'prompt mine-done',
    });

    const quota = await service.members.quotaOf({ platform: 'test', userId: 'ann', scopeId: 'g1' });
    expect(quota.lines.person).toMatchObject({ limit: 100, used: 2, reserved: 1, left: 97 });
    expect(quota.lines.server).toMatchObject({ limit: 0 });
    expect(quota.lines.server.left).toBeUndefined();
    for (const jobId of ['mine-1', 'theirs-1', 'mine-2']) await pipeline.cancel({ jobId });
  });
});

describe("an admin's views", () => {
  it('shows a server’s queue in fair order and cancels by id only within the server, unless a bot owner asks', async () => {
    render.holdNewTasks(true);
    await submit('q-a1', 'ann');
    await waitFor(async () => (await pipeline.queue.state('q-a1')) === 'active', 'q-a1 to render');
    await submit('q-a2', 'ann');
    await submit('q-b1', 'bob');
    await submit('q-other', 'cid', 'g9');

    const queue = await service.admin.serverQueue(actor('mod'));
    expect(queue.rendering.map((job) => job.jobId)).toEqual(['q-a1']);
    expect(
      queue.waiting.map((job) => [job.jobId, job.requester.displayName, job.position?.position]),
    ).toEqual([
      ['q-b1', 'name-bob', 1],
      ['q-a2', 'name-ann', 3],
    ]);
    await expect(service.admin.serverQueue(actor('ann', 'g1', false))).rejects.toMatchObject({
      refusal: { reason: 'admin-only', needs: 'server-admin' },
    });

    await expect(service.admin.cancel('q-other', actor('mod'))).rejects.toMatchObject({
      refusal: { reason: 'other-server' },
    });
    expect(await service.admin.cancel('q-a2', actor('mod'))).toBe('removed');
    expect(await service.admin.cancel('q-other', actor(OWNER, 'g1', false))).toBe('removed');
    expect(await service.admin.cancel('q-a1', actor('mod'))).toBe('signalled');
    expect(await service.admin.cancel('no-such-job', actor('mod'))).toBe('unknown');
    await pipeline.cancel({ jobId: 'q-b1' });
  });

  it('pauses the whole bot for owners only: nothing new starts on any worker, requests are refused, resume runs what waited', async () => {
    await expect(service.admin.pauseBot(actor('mod'))).rejects.toMatchObject({
      refusal: { reason: 'admin-only', needs: 'bot-owner' },
    });
    render.holdNewTasks(true);
    await submit('p-running', 'ann');
    await waitFor(async () => (await pipeline.queue.state('p-running')) === 'active', 'a running job');
    await submit('p-waiting', 'bob');
    const state = await service.admin.pauseBot(actor(OWNER));
    expect(state.bot).toMatchObject({ by: `name-${OWNER}` });
    expect(await pipeline.queue.queue.isPaused()).toBe(true);
    await expect(submit('p-new', 'cid')).rejects.toMatchObject({
      refusal: { reason: 'paused', scope: 'bot' },
    });

    const tasks = render.tasks().length;
    render.release();
    await finished('p-running');
    expect(await pipeline.queue.state('p-waiting')).toBe('waiting');
    expect(render.tasks()).toHaveLength(tasks);

    expect((await service.admin.resumeBot(actor(OWNER))).bot).toBeUndefined();
    render.holdNewTasks(false);
    await finished('p-waiting');
    expect(render.tasks()).toHaveLength(tasks + 1);
  });

  it('keeps per-server settings apart, with the environment as the default', async () => {
    expect(await service.admin.setSetting(actor('mod'), 'quota_overflow', 'sometimes')).toEqual({
      ok: false,
      error: 'quota_overflow must be refuse or relax',
    });
    expect(await service.admin.setSetting(actor('mod'), 'colour', 'red')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^unknown setting colour; known settings: model, max_active_per_user/),
    });
    expect(await service.admin.setSetting(actor('mod'), 'blocked_terms', 'kraken, *squid*')).toEqual({
      ok: true,
      value: ['kraken', '*squid*'],
    });
    // Looser moderation than the operator's is for bot owners.
    expect(await service.admin.setSetting(actor('mod'), 'moderation_text', 'false')).toMatchObject({
      ok: false,
    });
    expect(await service.admin.setSetting(actor(OWNER), 'moderation_text', 'false')).toEqual({
      ok: true,
      value: false,
    });
    await expect(submit('kraken-1', 'ann')).resolves.toMatchObject({ duplicate: false });
    await service.admin.resetSetting(actor(OWNER), 'moderation_text');
    await expect(
      service.submit({
        jobId: 'kraken-2',
        settings: { prompt: 'a giant squidlike thing' },
        images: { input_image: { bytes: png } },
        origin: origin('ann'),
        reportTo: { platform: 'test' },
      }),
    ).rejects.toMatchObject({ refusal: { reason: 'prompt-blocked', category: 'server' } });
    // The other server has none of it.
    expect((await service.admin.settings(actor('mod', 'g2'))).values.blocked_terms).toEqual([]);
    const view = await service.admin.settings(actor('mod'));
    expect(view.overrides).toEqual({ blocked_terms: ['kraken', '*squid*'] });
    expect(view.defaults.quota_per_user_per_day).toBe(100);
    expect(view.about.quota_overflow).toMatch(/relax/);
    await service.admin.resetSetting(actor('mod'), 'blocked_terms');
    await finished('kraken-1');
  });

  it('reads the audit log and the spend of its own server; owners see every server and the total', async () => {
    await submit('spend-1', 'ann', 'g5');
    await submit('spend-2', 'bob', 'g6');
    await finished('spend-1');
    await finished('spend-2');
    await waitFor(
      async () => (await service.community.audit.get('spend-2'))?.outcome === 'completed',
      'the audit outcome',
    );
    const records = await service.admin.audit(actor('mod', 'g5'), { limit: 10 });
    expect(records.map((record) => record.jobId)).toEqual(['spend-1']);
    expect(records[0]).toMatchObject({
      outcome: 'completed',
      requesterId: 'ann',
      cost: { amount: 0.1, currency: 'EUR' },
    });
    await expect(
      service.admin.audit(actor('mod', 'g5'), { limit: 10, everywhere: true }),
    ).rejects.toBeInstanceOf(RefusedError);
    const everywhere = await service.admin.audit(actor(OWNER, 'g5', false), { limit: 100, everywhere: true });
    expect(everywhere.map((record) => record.jobId)).toEqual(expect.arrayContaining(['spend-1', 'spend-2']));

    const spend = await service.admin.spend(actor('mod', 'g5'), 2);
    expect(spend.currency).toBe('EUR');
    expect(spend.days[0]).toEqual({
      day: new Date().toISOString().slice(0, 10),
      server: 0.1,
      currency: 'EUR',
    });
    const total = await service.admin.spend(actor(OWNER, 'g5', false), 1);
    expect(total.days[0]?.total).toBeGreaterThanOrEqual(0.2);
  });
});

describe('moderation failing safe', () => {
  it('refuses images and withholds results when the classifier cannot run', async () => {
    const broken: ImageClassifier = {
      warm: () => Promise.reject(new Error('no model')),
      classify: () => Promise.reject(new Error('no model')),
    };
    const strict = { ...env, MODERATION_IMAGES: true };
    const guarded = new GenerationService(pipeline.serviceDeps(), {
      defaultModel: 'wan2.1',
      limits: { maxRunningPerUser: 5, maxWaitingPerUser: 5 },
      maxInputBytes: 1024 * 1024,
      community: strict,
      classifier: broken,
    });
    const before = render.tasks().length;
    const refused = await submit('broken-1', 'ann', 'g1', guarded).catch((error: RefusedError) => error);
    expect(refused).toBeInstanceOf(RefusedError);
    expect((refused as RefusedError).message).toMatch(/^Images cannot be checked right now/);
    expect(render.tasks()).toHaveLength(before);
    expect(await service.community.audit.get('broken-1')).toMatchObject({ outcome: 'refused' });

    // A worker whose classifier cannot run posts nothing unchecked.
    const other = new Pipeline({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('desks-broken'),
      log,
      community: { env: strict, defaultModel: 'wan2.1', classifier: broken },
    });
    const outcomes: string[] = [];
    try {
      const jobService = new GenerationService(other.serviceDeps(), {
        defaultModel: 'wan2.1',
        limits: { maxRunningPerUser: 5, maxWaitingPerUser: 5 },
        maxInputBytes: 1024 * 1024,
        community: env,
      });
      await submit('broken-2', 'ann', 'g1', jobService);
      await other.startWorker(new ScriptedBackend(render.url, 10), copyPreparer, { concurrency: 1 });
      await waitFor(
        async () => (await jobService.members.jobsOf({ platform: 'test', userId: 'ann' })).recent[0],
        'the outcome',
      );
      const recent = (await jobService.members.jobsOf({ platform: 'test', userId: 'ann' })).recent[0]!;
      outcomes.push(recent.outcome, recent.detail ?? '');
      expect(await other.blobs.open('result-broken-2')).toBeUndefined();
    } finally {
      await other.queue.queue.obliterate({ force: true });
      await other.close();
      await cleanPrefix(redis, other.options.prefix);
    }
    expect(outcomes[0]).toBe('withheld');
    expect(outcomes[1]).toMatch(/the content check could not run/);
  });
});
