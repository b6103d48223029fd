import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import { explain as discordExplain } from '../../src/platforms/discord/refusals.js';
import { explain as slackExplain } from '../../src/platforms/slack/refusals.js';
import { ModelAvailabilityRecord } from '../../src/queue/model-availability.js';
import type { BackendStatus } from '../../src/queue/worker-health.js';
import { type AccessRules, type Check, type Origin, refuse } from '../../src/service/checks.js';
import { GenerationService, type ServiceSettings } from '../../src/service/generation-service.js';
import { UserJobs } from '../../src/service/user-jobs.js';
import { makePng } from '../support/media.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

/** Refusals are checks declared once in the service, evaluated once, and worded by each platform. */
const redis = testRedis();
const prefix = uniquePrefix('refusals');
const log = createLogger('silent');
let pipeline: Pipeline;
let png: Buffer;
let health: BackendStatus = { online: 1, healthy: 1, problems: [] };
let healthReads = 0;

const OPEN: AccessRules = { directMessages: 'allow', servers: [], channels: [], roles: [] };
const origin = (userId: string, access = OPEN): Origin => ({
  requester: { platform: 'test', userId, scopeId: 'g1' },
  place: { channelId: 'c1', serverId: 'g1', isDirectMessage: false },
  access,
});

function serviceWith(settings: Partial<ServiceSettings> = {}) {
  return new GenerationService(
    {
      ...pipeline.serviceDeps(),
      backendStatus: async () => {
        healthReads += 1;
        return health;
      },
    },
    {
      defaultModel: 'wan2.1',
      limits: { maxRunningPerUser: 1, maxWaitingPerUser: 0 },
      maxInputBytes: 1024 * 1024,
      ...settings,
    },
  );
}

const submitTo = (service: GenerationService, jobId: string, userId: string, access = OPEN) =>
  service.submit({
    jobId,
    settings: { prompt: 'p' },
    images: { input_image: { bytes: png } },
    origin: origin(userId, access),
    reportTo: { platform: 'test' },
  });

/** What each platform would tell the person about the same failed request. */
async function wordsOf(request: Promise<unknown>) {
  const error = await request.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeDefined();
  return { discord: discordExplain({ log }, error), slack: slackExplain({ log }, error) };
}

beforeAll(async () => {
  png = await makePng(64, 64);
  pipeline = new Pipeline({ redisUrl: TEST_REDIS_URL, prefix, log });
});

afterEach(() => {
  health = { online: 1, healthy: 1, problems: [] };
  healthReads = 0;
  vi.restoreAllMocks();
});

afterAll(async () => {
  await pipeline.queue.queue.obliterate({ force: true });
  await pipeline.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('refusals', () => {
  it('reads the caps and the backend health once per request, and not at all for an access refusal', async () => {
    health = { online: 1, healthy: 1, problems: [] };
    const loads = vi.spyOn(UserJobs.prototype, 'load');
    const service = serviceWith();
    await submitTo(service, 'once-1', 'u-once');
    expect([loads.mock.calls.length, healthReads]).toEqual([1, 1]);
    await service.rerun('once-1', {
      jobId: 'once-2',
      origin: origin('u-once-2'),
      reportTo: { platform: 'test' },
    });
    expect([loads.mock.calls.length, healthReads]).toEqual([2, 2]);
    await expect(submitTo(service, 'once-3', 'u-once-3', { ...OPEN, servers: ['other'] })).rejects.toThrow();
    expect([loads.mock.calls.length, healthReads]).toEqual([2, 2]);
  });

  it('refuses a request over the caps with the same text on Discord and Slack, and queues nothing', async () => {
    health = { online: 1, healthy: 1, problems: [] };
    const service = serviceWith();
    await submitTo(service, 'cap-1', 'u-cap');
    const words = await wordsOf(submitTo(service, 'cap-2', 'u-cap'));
    expect(words.discord).toBe(
      'You have 0 videos rendering and 1 waiting (in <#c1>). Each person may have 1 rendering at once ' +
        'and 0 more waiting behind them. Wait for one to finish, or cancel one with ❌.',
    );
    expect(words.slack).toBe(words.discord);
    expect(await pipeline.queue.queue.getJob('cap-2')).toBeUndefined();
  });

  it('refuses when every worker says the backend is down, with the same text on both platforms', async () => {
    health = { online: 2, healthy: 0, problems: ['no ComfyUI server answers'] };
    const words = await wordsOf(submitTo(serviceWith(), 'down-1', 'u-down'));
    expect(words.discord).toMatch(/^The video backend is down right now \(no ComfyUI server answers\)/);
    expect(words.slack).toBe(words.discord);
  });

  it('words the access refusals and the cancel permission each platform its own way', async () => {
    const service = serviceWith();
    const place = { ...OPEN, channels: ['C1', 'C2'] };
    const access = await wordsOf(submitTo(service, 'where-1', 'u-where', place));
    expect(access.discord).toBe('Kinema is not enabled in this channel; try <#C1>, <#C2>.');
    expect(access.slack).toBe('Kinema is not enabled here; try <#C1>, <#C2>.');
    await submitTo(service, 'mine-1', 'u-owner');
    const cancel = await wordsOf(service.cancel('mine-1', { userId: 'u-stranger', canModerate: false }));
    expect(cancel.discord).toBe('Only the person who asked for this video (or a moderator) can cancel it');
    expect(cancel.slack).toBe(
      'Only the person who asked for this video (or a workspace admin) can cancel it.',
    );
  });

  it('refuses a model a worker found gone, before storing anything, naming the models that work; reruns too', async () => {
    const service = serviceWith();
    await submitTo(service, 'gone-parent', 'u-gone-parent');
    const record = new ModelAvailabilityRecord(redis, prefix);
    await record.unavailable('wan2.1', { service: 'inference.sh', reason: 'the app was retired' });
    const saved = vi.spyOn(pipeline.inputs, 'save');
    const words = await wordsOf(submitTo(service, 'gone-1', 'u-gone'));
    expect(words.discord).toBe(
      'Wan 2.1 is not available on inference.sh any more (the app was retired); use wan2.2-a14b, wan2.2-5b or wan2.2-lightning. Nothing was queued.',
    );
    expect(words.slack).toBe(words.discord);
    expect(saved).not.toHaveBeenCalled();
    expect(await pipeline.queue.queue.getJob('gone-1')).toBeUndefined();
    await expect(
      service.rerun('gone-parent', {
        jobId: 'gone-2',
        origin: origin('u-gone-2'),
        reportTo: { platform: 'test' },
      }),
    ).rejects.toThrow(/not available on inference.sh/);
    const other = await service.submit({
      jobId: 'gone-3',
      settings: { prompt: 'p', model: 'wan2.2-a14b' },
      images: { input_image: { bytes: png } },
      origin: origin('u-gone-3'),
      reportTo: { platform: 'test' },
    });
    expect(other.duplicate).toBe(false);
    await record.available('wan2.1');
    expect((await submitTo(service, 'gone-4', 'u-gone-4')).duplicate).toBe(false);
  });

  it('applies a rule added once to every request, whichever platform it came from', async () => {
    const paused: Check = {
      name: 'paused for maintenance',
      stage: 'service',
      run: () => refuse({ reason: 'backend-down', problems: ['paused for maintenance'] }),
    };
    const service = serviceWith({ extraChecks: [paused] });
    const words = await wordsOf(submitTo(service, 'paused-1', 'u-paused'));
    expect(words.discord).toMatch(/paused for maintenance/);
    expect(words.slack).toBe(words.discord);
    expect(await pipeline.queue.queue.getJob('paused-1')).toBeUndefined();
  });
});
