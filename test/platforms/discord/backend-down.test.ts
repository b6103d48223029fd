import { copyFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DiscordHarness, startDiscordHarness } from '../../support/discord-harness.js';
import { testRedis } from '../../support/redis.js';
import { ScriptedBackend } from '../../support/scripted-backend.js';

/** A backend whose service is unreachable, as a worker beside a stopped ComfyUI reports it. */
class UnreachableBackend extends ScriptedBackend {
  async health() {
    return { ok: false, message: 'no ComfyUI server answers' };
  }
}

const redis = testRedis();
let h: DiscordHarness;

beforeAll(async () => {
  h = await startDiscordHarness();
  await h.startBot();
});

afterAll(async () => {
  await h.close(redis);
  await redis.quit();
});

describe('when the render backend is down', () => {
  const ask = () => {
    const invoked = h.discord.invokeSlashCommand({
      userId: h.userId,
      channelId: h.channelId,
      name: 'animate',
      options: {
        image: { bytes: h.png, filename: 'a.png', contentType: 'image/png' },
        prompt: 'hello',
      } as never,
    });
    return h.answer(invoked.id);
  };

  it('warns that no worker is online but still queues the job', async () => {
    expect(await ask()).toMatch(/No render worker is online right now/);
    expect(await h.pipeline.queue.queue.getJobCountByTypes('waiting', 'prioritized')).toBe(1);
    await h.pipeline.queue.queue.drain();
  });

  it('tells the user the backend is down and queues nothing when every worker says so', async () => {
    const copy = async (input: string, output: string) => {
      await copyFile(input, output);
      return { bytes: (await stat(output)).size };
    };
    await h.pipeline.startWorker(new UnreachableBackend(h.service.url), copy);
    const before = await h.pipeline.queue.queue.getJobCounts();
    expect(await ask()).toMatch(/the video backend is down right now \(no ComfyUI server answers\)/i);
    expect(await h.pipeline.queue.queue.getJobCounts()).toEqual(before);
  });
});
