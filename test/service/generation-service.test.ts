import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import type { AccessRules, Origin } from '../../src/service/checks.js';
import { GenerationService } from '../../src/service/generation-service.js';
import { RefusedError } from '../../src/service/refusals.js';
import { HTML_LOGIN_PAGE, makePng } from '../support/media.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

const redis = testRedis();
const prefix = uniquePrefix('service');
let pipeline: Pipeline;
let service: GenerationService;
let png: Buffer;

const OPEN: AccessRules = { directMessages: 'allow', servers: [], channels: [], roles: [] };

const origin = (userId: string): Origin => ({
  requester: { platform: 'test', userId, scopeId: 'g1' },
  place: { channelId: 'c1', serverId: 'g1', isDirectMessage: false },
  access: OPEN,
});

function submit(jobId: string, userId = 'u1') {
  return service.submit({
    jobId,
    settings: { prompt: 'p' },
    images: { input_image: { bytes: png, filename: 'x.png' } },
    origin: origin(userId),
    reportTo: { platform: 'test' },
  });
}

const isOverCap = (error: unknown) => error instanceof RefusedError && error.refusal.reason === 'over-cap';

beforeAll(async () => {
  png = await makePng(64, 64);
  pipeline = new Pipeline({ redisUrl: TEST_REDIS_URL, prefix, log: createLogger('silent') });
  service = new GenerationService(pipeline.serviceDeps(), {
    defaultModel: 'wan2.1',
    limits: { maxRunningPerUser: 1, maxWaitingPerUser: 1 },
    maxInputBytes: 1024 * 1024,
  });
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
    const refused = results.filter((result) => result.status === 'rejected' && isOverCap(result.reason));
    expect(accepted).toHaveLength(2);
    expect(refused).toHaveLength(10);
  });

  it('lets a refused rerun be clicked again once there is room', async () => {
    const parent = await submit('parent-1', 'u2');
    await submit('busy-1', 'u2');
    const input = { origin: origin('u2'), reportTo: { platform: 'test' } };
    const refused = await service.rerun(parent.jobId, { ...input, jobId: 'rerun-1' }).catch((error) => error);
    expect(isOverCap(refused)).toBe(true);
    await pipeline.cancel({ jobId: 'busy-1' });
    const again = await service.rerun(parent.jobId, { ...input, jobId: 'rerun-2' });
    expect(again).toMatchObject({ jobId: 'rerun-2', duplicate: false });
    expect(again.request.seed).not.toBe(parent.request.seed);
    expect((await pipeline.queue.queue.getJob('rerun-2'))?.data).toMatchObject({
      parentJobId: 'parent-1',
      deliverVia: 'deliver-test',
    });
  });

  it('stores the input image from bytes, normalised, under the job', async () => {
    const submitted = await submit('bytes-1', 'u3');
    const image = submitted.request.input_image;
    expect(image).toMatchObject({ contentType: 'image/png', width: 64, height: 64, filename: 'x.png' });
    expect(await pipeline.blobs.read(image.key)).toBeInstanceOf(Buffer);
  });

  describe('from a URL', () => {
    let server: Server;
    let host: string;
    const requests: Array<{ url?: string; authorization?: string }> = [];

    beforeAll(async () => {
      server = createServer((req, res) => {
        requests.push({ url: req.url, authorization: req.headers.authorization });
        if (req.url === '/login.png') return void res.writeHead(200).end(HTML_LOGIN_PAGE);
        res.writeHead(200, { 'content-type': 'image/png' }).end(png);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const fromUrl = (jobId: string, path: string, extra: Record<string, unknown> = {}) =>
      service.submit({
        jobId,
        settings: { prompt: 'p' },
        images: {
          input_image: { url: `http://${host}${path}`, filename: 'cat.png', allowedHosts: [host], ...extra },
        },
        origin: origin(`url-${jobId}`),
        reportTo: { platform: 'test' },
      });

    it('downloads it from an allowed host with the given headers, and stores it', async () => {
      const submitted = await fromUrl('url-1', '/cat.png', {
        headers: { Authorization: 'Bearer xoxb-test' },
      });
      expect(requests.at(-1)).toEqual({ url: '/cat.png', authorization: 'Bearer xoxb-test' });
      expect(submitted.request.input_image).toMatchObject({ contentType: 'image/png', filename: 'cat.png' });
    });

    it('refuses what the platform says is too large without downloading it, and a page that is no image', async () => {
      const before = requests.length;
      await expect(fromUrl('url-2', '/cat.png', { declared: { bytes: 5 * 1024 * 1024 } })).rejects.toThrow(
        /the image is 5\.0 MiB; the limit is 1 MiB/,
      );
      expect(requests).toHaveLength(before);
      await expect(fromUrl('url-3', '/login.png')).rejects.toThrow(/HTML page/);
      expect(await pipeline.queue.queue.getJob('url-2')).toBeUndefined();
      expect(await pipeline.queue.queue.getJob('url-3')).toBeUndefined();
    });

    it('takes an image learned only after the checks (resolve), and never downloads for a refused request', async () => {
      let resolved = 0;
      const lazy = {
        resolve: async () => {
          resolved += 1;
          return { url: `http://${host}/cat.png`, allowedHosts: [host] };
        },
      };
      const request = (jobId: string, access: AccessRules) =>
        service.submit({
          jobId,
          settings: { prompt: 'p' },
          images: { input_image: lazy },
          origin: { ...origin('lazy'), access },
          reportTo: { platform: 'test' },
        });
      await expect(request('lazy-1', { ...OPEN, channels: ['elsewhere'] })).rejects.toThrow(/not enabled/);
      expect(resolved).toBe(0);
      await request('lazy-2', OPEN);
      expect(resolved).toBe(1);
    });
  });
});
