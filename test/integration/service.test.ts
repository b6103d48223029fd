import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import { GenerationService, OverLimitError } from '../../src/service/generation-service.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

const redis = testRedis();
const prefix = uniquePrefix('service');
let pipeline: Pipeline;
let service: GenerationService;

const requester = (userId: string) => ({ platform: 'test', userId, scopeId: 'g1' });

async function submit(jobId: string, userId = 'u1') {
  const image = await pipeline.inputs.save({
    bytes: Buffer.from('x'),
    contentType: 'image/png',
    width: 8,
    height: 8,
    filename: 'x.png',
  });
  return service.submit({
    jobId,
    settings: { prompt: 'p' },
    images: { input_image: image },
    requester: requester(userId),
    reportTo: { platform: 'test' },
    deliverVia: 'deliver-test',
  });
}

beforeAll(() => {
  pipeline = new Pipeline({ redisUrl: TEST_REDIS_URL, prefix, log: createLogger('silent') });
  service = new GenerationService(pipeline, 'wan2.1', { maxRunningPerUser: 1, maxWaitingPerUser: 1 });
});

afterAll(async () => {
  await pipeline.queue.queue.obliterate({ force: true });
  await pipeline.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('the generation service', () => {
  it('holds the per-user caps under a burst of concurrent requests', async () => {
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => submit(`burst-${i}`)));
    const accepted = results.filter((result) => result.status === 'fulfilled');
    const refused = results.filter(
      (result) => result.status === 'rejected' && result.reason instanceof OverLimitError,
    );
    expect(accepted).toHaveLength(2);
    expect(refused).toHaveLength(10);
  });

  it('lets a refused rerun be clicked again once there is room', async () => {
    const parent = await submit('parent-1', 'u2');
    await submit('busy-1', 'u2');
    const input = { requester: requester('u2'), reportTo: { platform: 'test' }, deliverVia: 'deliver-test' };
    await expect(service.rerun(parent.jobId, { ...input, jobId: 'rerun-1' })).rejects.toBeInstanceOf(
      OverLimitError,
    );
    await pipeline.cancel({ jobId: 'busy-1' });
    const again = await service.rerun(parent.jobId, { ...input, jobId: 'rerun-2' });
    expect(again).toMatchObject({ jobId: 'rerun-2', duplicate: false });
    expect(again.request.seed).not.toBe(parent.request.seed);
  });
});
