import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countFrames, probeVideo } from '../../src/media/video.js';
import { type FakeInference, startFakeInference } from '../fakes/inference-sh/server.js';
import { decodeFrame, makeMp4, meanDifference, rgbOf, tempDir } from '../support/media.js';
import { spawnTs } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

/** `animate --extend <video.mp4>`: the local video's last frame is sent, the output is both joined. */

const redis = testRedis();
const prefix = uniquePrefix('cli-extend');
const SAME = 4;
let fake: FakeInference;
let dir: string;
let cleanup: () => Promise<void>;
let served: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('cli-extend'));
  served = join(dir, 'served.mp4');
  await makeMp4(served, { seconds: 1, faststart: true });
  fake = await startFakeInference({ video: await readFile(served), stepDelayMs: 20 });
});

afterAll(async () => {
  await fake.close();
  await cleanup();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('npm run animate -- --extend', () => {
  it('starts from the last frame of the local video and writes it followed by the continuation', async () => {
    const original = join(dir, 'walk.mp4');
    await makeMp4(original, { seconds: 2, width: 320, height: 240, faststart: true });
    const out = join(dir, 'walk-extended.mp4');
    const before = fake.tasksCreated();
    const cli = spawnTs(
      'src/cli/animate.ts',
      {
        REDIS_URL: TEST_REDIS_URL,
        KINEMA_PREFIX: prefix,
        BACKEND: 'inference',
        INFERENCE_API_KEY: fake.apiKey,
        INFERENCE_API_URL: fake.apiUrl,
        INFERENCE_OUTPUT_HOSTS: fake.storageHost,
        LOG_LEVEL: 'silent',
      },
      [
        '--extend',
        original,
        '--prompt',
        'the walker turns the corner',
        '--model',
        'wan2.2-a14b',
        '--out',
        out,
      ],
    );
    expect(await cli.exited).toBe(0);
    expect(fake.tasksCreated() - before).toBe(1);

    const frames = (path: string) => countFrames(path, { decode: true });
    const originalFrames = await frames(original);
    expect(await frames(out)).toBe(originalFrames + (await frames(served)) - 1);
    const [joined, source] = [await probeVideo(out), await probeVideo(original)];
    expect(joined).toMatchObject({ width: source.width, height: source.height, frameRate: source.frameRate });
    expect(cli.output()).toContain(`${joined.durationSeconds.toFixed(1)} s`);
    for (const index of [0, originalFrames - 1]) {
      const want = await decodeFrame(original, index, dir);
      expect(meanDifference(await decodeFrame(out, index, dir), want)).toBeLessThan(SAME);
    }
    // The image sent is the local video's last frame.
    const run = fake.runRequests().at(-1)!;
    const uri = JSON.stringify(run.input).match(/"(?:image|input_image)":"([^"]+)"/)?.[1] ?? '';
    const sent = [...fake.uploads()].find(([id]) => uri.includes(id))?.[1];
    expect(sent).toBeDefined();
    const last = await decodeFrame(original, originalFrames - 1, dir);
    expect(meanDifference(await rgbOf(sent!), last)).toBeLessThan(SAME);
  });

  it('refuses a file that is not a video before anything is sent', async () => {
    const notVideo = join(dir, 'notes.mp4');
    await writeFile(notVideo, 'not a video');
    const before = fake.tasksCreated();
    const cli = spawnTs(
      'src/cli/animate.ts',
      {
        REDIS_URL: TEST_REDIS_URL,
        KINEMA_PREFIX: prefix,
        BACKEND: 'inference',
        LOG_LEVEL: 'silent',
        INFERENCE_API_KEY: fake.apiKey,
        INFERENCE_API_URL: fake.apiUrl,
      },
      ['--extend', notVideo, '--prompt', 'anything'],
    );
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toMatch(/--extend: .* is not a video/);
    expect(fake.tasksCreated()).toBe(before);
  });
});
