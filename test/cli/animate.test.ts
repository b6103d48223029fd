import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countFrames } from '../../src/media/video.js';
import { startFakeComfy } from '../fakes/comfyui/index.js';
import { type FakeInference, startFakeInference } from '../fakes/inference-sh/server.js';
import { makeMp4, makePng, tempDir } from '../support/media.js';
import { spawnTs, stopProcess, waitFor } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

const redis = testRedis();
const prefix = uniquePrefix('cli');
let fake: FakeInference;
let dir: string;
let cleanup: () => Promise<void>;
let video: Buffer;
let image: string;

function runCli(args: string[], env: Record<string, string> = {}) {
  return spawnTs(
    'src/cli/animate.ts',
    {
      REDIS_URL: TEST_REDIS_URL,
      KINEMA_PREFIX: prefix,
      BACKEND: 'inference',
      INFERENCE_API_KEY: fake.apiKey,
      INFERENCE_API_URL: fake.apiUrl,
      INFERENCE_OUTPUT_HOSTS: fake.storageHost,
      LOG_LEVEL: 'silent',
      ...env,
    },
    args,
  );
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('cli'));
  await makeMp4(join(dir, 'served.mp4'), { seconds: 1, faststart: true });
  video = await readFile(join(dir, 'served.mp4'));
  image = join(dir, 'cat.png');
  await (await import('node:fs/promises')).writeFile(image, await makePng(320, 240));
  fake = await startFakeInference({ video, stepDelayMs: 20 });
});

afterAll(async () => {
  await fake.close();
  await cleanup();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('npm run animate', () => {
  it('--variants 2 --seed 40 renders two videos with seeds 40 and 41, written as -1 and -2', async () => {
    const out = join(dir, 'pair.mp4');
    const before = fake.tasksCreated();
    const cli = runCli([
      ...['--image', image, '--prompt', 'the cat blinks', '--out', out],
      ...['--model', 'wan2.2-a14b', '--seed', '40', '--variants', '2'],
    ]);
    expect(await cli.exited).toBe(0);
    expect(fake.tasksCreated() - before).toBe(2);
    expect(
      fake
        .runRequests()
        .slice(-2)
        .map((run) => Number(run.input.seed)),
    ).toEqual([40, 41]);
    expect((await readFile(join(dir, 'pair-1.mp4'))).equals(video)).toBe(true);
    expect((await readFile(join(dir, 'pair-2.mp4'))).equals(video)).toBe(true);
    expect(cli.output()).toMatch(/seed: 40[\s\S]*seed: 41/);
  });

  it('writes the served mp4 byte for byte and prints seed, model and task id, with one task created', async () => {
    const out = join(dir, 'out.mp4');
    const before = fake.tasksCreated();
    const cli = runCli([
      '--image',
      image,
      '--prompt',
      'the cat yawns',
      '--out',
      out,
      '--model',
      'wan2.2-a14b',
      '--num_frames',
      '49',
      '--seed',
      '77',
    ]);
    expect(await cli.exited).toBe(0);
    expect((await readFile(out)).equals(video)).toBe(true);
    expect(fake.tasksCreated() - before).toBe(1);
    expect(cli.output()).toMatch(/seed: 77/);
    expect(cli.output()).toMatch(/model: wan2\.2-a14b/);
    const taskId = fake.taskIds().at(-1)!;
    expect(cli.output()).toContain(`task: ${taskId}`);
    // The CLI ran in a private queue and cleaned it up: nothing of it is left in Redis.
    expect(await redis.keys(`${prefix}-cli-*`)).toEqual([]);
    expect(fake.runRequests().at(-1)).toMatchObject({
      app: 'infsh/wan2-2-i2v-a14b',
      input: { prompt: 'the cat yawns', num_frames: 49, seed: 77 },
    });
  });

  it("answers bad flags with the schema's messages and exit code 2, creating nothing", async () => {
    const before = fake.tasksCreated();
    const cli = runCli(['--image', image, '--prompt', 'x', '--num_frames', '80', '--size', '999x7']);
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toMatch(/num_frames must be a number of the form 4n\+1/);
    expect(cli.output()).toMatch(/size must be one of 832x480/);
    expect(fake.tasksCreated()).toBe(before);
  });

  it('says the API key is invalid, without printing it', async () => {
    const cli = runCli(['--image', image, '--prompt', 'x'], { INFERENCE_API_KEY: 'inf_wrong_key_000000' });
    expect(await cli.exited).toBe(1);
    expect(cli.output()).toMatch(/API key/);
    expect(cli.output()).not.toContain('inf_wrong_key_000000');
  });

  it('cancels the remote task on Ctrl-C and exits non-zero', async () => {
    fake.setFault({ pauseAt: 7 });
    try {
      const cli = runCli(['--image', image, '--prompt', 'stop me', '--out', join(dir, 'never.mp4')]);
      const taskId = await waitFor(() => {
        const id = fake.taskIds().find((candidate) => fake.task(candidate)?.status === 7);
        return id;
      }, 'a running task');
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(130);
      await waitFor(() => fake.task(taskId)?.status === 12, 'the task to be cancelled');
      expect(cli.output()).toMatch(/cancelled/);
      await stopProcess(cli);
    } finally {
      fake.setFault({ pauseAt: undefined });
      fake.resume();
    }
  });

  it('--loop on ComfyUI: the first-last-frame graph gets the start image at both ends, the mp4 one frame fewer', async () => {
    const comfy = await startFakeComfy({ video, steps: 4, stepDelayMs: 10 });
    try {
      const out = join(dir, 'loop.mp4');
      const cli = runCli(['--image', image, '--prompt', 'round and round', '--out', out, '--loop'], {
        BACKEND: 'comfyui',
        COMFYUI_URL: comfy.url,
      });
      expect(await cli.exited).toBe(0);
      const [prompt] = comfy.promptsSubmitted();
      expect(Object.values(prompt!.graph).map((node) => node.class_type)).toContain(
        'WanFirstLastFrameToVideo',
      );
      const uploads = comfy.uploads();
      expect(uploads.map((u) => u.name).sort()).toEqual([
        `${prompt!.promptId}_end.png`,
        `${prompt!.promptId}_start.png`,
      ]);
      expect(uploads[0]!.bytes.equals(uploads[1]!.bytes)).toBe(true);
      const served = join(dir, 'served.mp4');
      expect(await countFrames(out, { decode: true })).toBe(
        (await countFrames(served, { decode: true })) - 1,
      );
    } finally {
      await comfy.close();
    }
  });

  it('--loop with --end-image is refused with exit code 2, creating nothing', async () => {
    const before = fake.tasksCreated();
    const cli = runCli(['--image', image, '--prompt', 'x', '--loop', '--end-image', image]);
    expect(await cli.exited).toBe(2);
    expect(cli.output()).toMatch(
      /Loop ends the video on its start image, so it cannot also take an end frame/,
    );
    expect(fake.tasksCreated()).toBe(before);
  });

  it('works the same with BACKEND=comfyui against a ComfyUI server', async () => {
    const comfy = await startFakeComfy({ video, steps: 4, stepDelayMs: 10 });
    try {
      const out = join(dir, 'comfy.mp4');
      const cli = runCli(['--image', image, '--prompt', 'self-hosted', '--out', out], {
        BACKEND: 'comfyui',
        COMFYUI_URL: comfy.url,
      });
      expect(await cli.exited).toBe(0);
      expect((await readFile(out)).equals(video)).toBe(true);
      expect(comfy.promptsSubmitted()).toHaveLength(1);
      expect(cli.output()).toMatch(/model: wan2\.1/);
    } finally {
      await comfy.close();
    }
  });
});
