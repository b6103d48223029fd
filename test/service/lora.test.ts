import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendCapabilities } from '../../src/backends/index.js';
import { parseConfig } from '../../src/config.js';
import { parseSettings } from '../../src/core/request.js';
import { createLogger } from '../../src/log.js';
import type { HostPolicy } from '../../src/media/public-host.js';
import { Pipeline } from '../../src/pipeline.js';
import { explain as slackExplain } from '../../src/platforms/slack/refusals.js';
import type { AccessRules, Origin } from '../../src/service/checks.js';
import { GenerationService } from '../../src/service/generation-service.js';
import { RefusedError } from '../../src/service/refusals.js';
import { harnessPerTest, runToVideo } from '../support/inference-sh-harness.js';
import { makePng } from '../support/media.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

/**
 * `lora_file` is refused before anything is queued where the backend cannot apply it, and when its
 * URL is not https to a public host (literal or resolved); where it is taken it reaches the app's
 * own LoRA field (the fake inference.sh, Wan 2.1's published `lora_file`).
 */

const redis = testRedis();
const prefix = uniquePrefix('lora');
const log = createLogger('silent');
let pipeline: Pipeline;
let png: Buffer;
const start = harnessPerTest();

const OPEN: AccessRules = { directMessages: 'allow', servers: [], channels: [], roles: [] };
const origin: Origin = {
  requester: { platform: 'test', userId: 'u1', scopeId: 'g1' },
  place: { channelId: 'c1', serverId: 'g1', isDirectMessage: false },
  access: OPEN,
};

/** A DNS the test controls: names the test uses, and what they resolve to. */
const fetchPolicy: HostPolicy = {
  lookup: async (host) =>
    (
      ({
        'lora.example': ['127.0.0.1'],
        'inside.example': ['10.20.30.40'],
        'huggingface.example': ['93.184.216.34'],
      }) as Record<string, string[]>
    )[host]?.map((address) => ({ address, family: 4 })) ?? [],
};

function serviceFor(env: Record<string, string>) {
  const config = parseConfig({ KINEMA_ROLE: 'bot', ...env });
  return new GenerationService(
    { ...pipeline.serviceDeps(), backendStatus: async () => ({ online: 1, healthy: 1, problems: [] }) },
    {
      defaultModel: 'wan2.1',
      limits: { maxRunningPerUser: 5, maxWaitingPerUser: 5 },
      maxInputBytes: 1024 * 1024,
      capabilities: backendCapabilities(config),
      fetchPolicy,
    },
  );
}

let counter = 0;
const submit = (service: GenerationService, lora: string, model: 'wan2.1' | 'wan2.2-a14b' = 'wan2.1') =>
  service.submit({
    jobId: `lora-${++counter}`,
    settings: { prompt: 'a paper boat drifts', model, lora_file: lora },
    images: { input_image: { bytes: png } },
    origin,
    reportTo: { platform: 'test' },
  });

async function refusalOf(request: Promise<unknown>) {
  const error = await request.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(RefusedError);
  return { refusal: (error as RefusedError).refusal, slack: slackExplain({ log }, error) };
}

const queued = async () => pipeline.queue.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
const total = async () => Object.values(await queued()).reduce((sum, n) => sum + n, 0);

beforeAll(async () => {
  png = await makePng(64, 64);
  pipeline = new Pipeline({ redisUrl: TEST_REDIS_URL, prefix, log });
});

afterAll(async () => {
  await pipeline.queue.queue.obliterate({ force: true });
  await pipeline.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('lora_file', () => {
  it('refuses private, loopback and metadata hosts, literal or resolved, before queueing', async () => {
    const service = serviceFor({ BACKEND: 'inference', INFERENCE_APP: 'infsh/wan2-1-i2v' });
    for (const url of [
      'https://169.254.169.254/x.safetensors',
      'https://lora.example/x.safetensors',
      'https://inside.example/x.safetensors',
      'https://[::ffff:10.0.0.1]/x.safetensors',
    ]) {
      const { refusal, slack } = await refusalOf(submit(service, url));
      expect(refusal.reason, url).toBe('bad-link');
      expect(slack).toMatch(/LoRA link must be on a public host.*nothing was queued/);
    }
    const { slack } = await refusalOf(submit(service, 'http://huggingface.example/x.safetensors'));
    expect(slack).toMatch(/must be an https:\/\/ URL/);
    // The request schema already refuses http, before the service is asked.
    const parsed = parseSettings({ prompt: 'p', lora_file: 'http://huggingface.example/x.safetensors' });
    expect(parsed.ok).toBe(false);
    expect(await total()).toBe(0);
  });

  it('is refused on a model or backend that cannot apply one', async () => {
    const inference = serviceFor({ BACKEND: 'inference' });
    const onWan22 = await refusalOf(
      submit(inference, 'https://huggingface.example/x.safetensors', 'wan2.2-a14b'),
    );
    expect(onWan22.slack).toBe(
      'Wan 2.2 I2V A14B on inference.sh cannot take a LoRA (lora_file); nothing was queued. Leave it out, or pick another model.',
    );
    const comfyWithoutDir = serviceFor({ BACKEND: 'comfyui' });
    const onComfy = await refusalOf(submit(comfyWithoutDir, 'https://huggingface.example/x.safetensors'));
    expect(onComfy.slack).toMatch(/^Wan 2\.1 I2V 14B on the self-hosted ComfyUI backend cannot take a LoRA/);
    expect(await total()).toBe(0);
  });

  it('is queued for a public https host, and reaches the LoRA field of an app that publishes one', async () => {
    const comfy = serviceFor({ BACKEND: 'comfyui', COMFYUI_LORA_DIR: '/srv/comfyui/models/loras' });
    const url = 'https://huggingface.example/style.safetensors';
    const submitted = await submit(comfy, url);
    expect(submitted.request.lora_file).toBe(url);

    const h = await start({ fake: { retiredAppsRun: true } });
    await runToVideo(h, { model: 'wan2.1', lora_file: url, lora_multiplier: 0.7 });
    const [run] = h.fake.runRequests();
    expect(run?.app).toBe('infsh/wan2-1-i2v');
    expect(run?.input).toMatchObject({ lora_file: url, lora_multiplier: 0.7 });
  });
});

describe('an end frame', () => {
  it('is refused before queueing on a model the backend gives no end frame', async () => {
    const before = await total();
    const service = new GenerationService(
      { ...pipeline.serviceDeps(), backendStatus: async () => ({ online: 1, healthy: 1, problems: [] }) },
      {
        defaultModel: 'wan2.1',
        limits: { maxRunningPerUser: 5, maxWaitingPerUser: 5 },
        maxInputBytes: 1024 * 1024,
        capabilities: {
          backend: 'inference.sh',
          endFrame: (model) => model !== 'wan2.2-5b',
          lora: () => false,
        },
      },
    );
    const { slack } = await refusalOf(
      service.submit({
        jobId: 'end-1',
        settings: { prompt: 'p', model: 'wan2.2-5b' },
        images: { input_image: { bytes: png }, end_frame: { bytes: png } },
        origin,
        reportTo: { platform: 'test' },
      }),
    );
    expect(slack).toBe(
      'Wan 2.2 TI2V 5B on inference.sh cannot take an end frame; nothing was queued. Leave it out, or pick another model.',
    );
    expect(await total()).toBe(before);
  });
});
