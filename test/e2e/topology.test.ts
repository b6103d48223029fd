import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../fakes/comfyui/index.js';
import { type FakeDiscord, startFakeDiscord } from '../fakes/discord/index.js';
import { makeMp4, makePng, tempDir } from '../support/media.js';
import { type Spawned, spawnTs, stopProcess, waitFor, waitForOutput } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

/**
 * The self-hosting topology, as a user runs it: `npm run commands:deploy`, then a worker process
 * beside ComfyUI (KINEMA_ROLE=worker BACKEND=comfyui) and a bot process elsewhere (KINEMA_ROLE=bot),
 * sharing only Redis. The video still reaches the chat.
 */
const redis = testRedis();
const prefix = uniquePrefix('topology');
const ALICE = '320000000000000001';
let discord: FakeDiscord;
let comfy: FakeComfy;
let video: Buffer;
let png: Buffer;
let cleanup: () => Promise<void>;
const processes: Spawned[] = [];

function start(role: 'worker' | 'bot', extra: Record<string, string> = {}) {
  const spawned = spawnTs('src/main.ts', {
    REDIS_URL: TEST_REDIS_URL,
    KINEMA_PREFIX: prefix,
    KINEMA_ROLE: role,
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    ...extra,
  });
  processes.push(spawned);
  return spawned;
}

beforeAll(async () => {
  const media = await tempDir('topology');
  cleanup = media.cleanup;
  await makeMp4(join(media.dir, 'served.mp4'), { seconds: 1, faststart: true });
  video = await readFile(join(media.dir, 'served.mp4'));
  png = await makePng(320, 240);
  comfy = await startFakeComfy({ video, steps: 4, stepDelayMs: 20 });
  discord = await startFakeDiscord({ users: [{ id: ALICE, username: 'alice' }] });
});

afterAll(async () => {
  await Promise.all(processes.map((spawned) => stopProcess(spawned)));
  await discord.close();
  await comfy.close();
  await cleanup();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('a worker on the GPU box and the bot elsewhere, sharing Redis', () => {
  it('deploys the commands, renders on ComfyUI in the worker process and posts the video from the bot process', async () => {
    const discordEnv = {
      DISCORD_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_GUILD_ID: discord.guild().id,
      DISCORD_API_URL: discord.apiUrl,
    };
    const deploy = spawnTs('deploy-commands.ts', {
      ...discordEnv,
      KINEMA_ROLE: 'bot',
      REDIS_URL: TEST_REDIS_URL,
    });
    expect(await deploy.exited).toBe(0);
    expect(deploy.output()).toMatch(/Registered 4 commands \(guild/);

    const worker = start('worker', { BACKEND: 'comfyui', COMFYUI_URL: comfy.url });
    const bot = start('bot', discordEnv);
    await waitForOutput(worker, 'worker started');
    await waitForOutput(bot, 'chat platforms active');
    expect(bot.output()).toMatch(/"platforms":\["discord"\]/);

    const channelId = discord.guild().channels.find((channel) => channel.type === 0)!.id;
    discord.invokeSlashCommand({
      userId: ALICE,
      channelId,
      name: 'animate',
      options: {
        image: { bytes: png, filename: 'cat.png', contentType: 'image/png' },
        prompt: 'from the gpu box',
      } as never,
    });
    const post = await waitFor(
      () =>
        discord
          .messages(channelId)
          .find((message) => message.attachments.some((attachment) => attachment.filename.endsWith('.mp4'))),
      'the video in the channel',
      30_000,
    ).catch((error) => {
      console.log(
        bot.output().slice(-3000),
        worker.output().slice(-3000),
        JSON.stringify(discord.messages(channelId)).slice(0, 2000),
      );
      throw error;
    });
    expect(discord.attachmentBytes(post.id, 0).equals(video)).toBe(true);
    expect(comfy.promptsSubmitted()).toHaveLength(1);
    expect(post.content).toMatch(/from the gpu box/);
  });
});
