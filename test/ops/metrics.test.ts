import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeComfy, startFakeComfy } from '../fakes/comfyui/index.js';
import { type FakeDiscord, startFakeDiscord } from '../fakes/discord/index.js';
import { makeMp4, makePng, tempDir } from '../support/media.js';
import { type Spawned, spawnTs, stopProcess, waitFor, waitForOutput } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

/**
 * `curl /metrics` as an operator scrapes it: a worker process and a bot process (sharing Redis),
 * each with HTTP_PORT and METRICS_TOKEN; one /animate goes through the fakes, and each process's
 * metrics count what happened there.
 */
const redis = testRedis();
const prefix = uniquePrefix('metrics');
const ALICE = '340000000000000001';
const TOKEN = 'metrics-token-for-the-test';
let discord: FakeDiscord;
let comfy: FakeComfy;
let cleanup: () => Promise<void>;
const processes: Spawned[] = [];

function start(role: 'worker' | 'bot', extra: Record<string, string> = {}) {
  const spawned = spawnTs('src/main.ts', {
    REDIS_URL: TEST_REDIS_URL,
    KINEMA_PREFIX: prefix,
    KINEMA_ROLE: role,
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    MODERATION_IMAGES: 'false',
    METRICS_TOKEN: TOKEN,
    DISCORD_TOKEN: '',
    SLACK_BOT_TOKEN: '',
    SLACK_APP_TOKEN: '',
    ...extra,
  });
  processes.push(spawned);
  return spawned;
}

const portOf = (spawned: Spawned) => Number(/"port":(\d+),"msg":"HTTP/.exec(spawned.output())?.[1]);

async function scrape(spawned: Spawned, token = TOKEN) {
  const response = await fetch(`http://127.0.0.1:${portOf(spawned)}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

/** The value of one sample line, e.g. `kinema_job_wait_seconds_count`. */
function sample(text: string, line: RegExp): number | undefined {
  for (const row of text.split('\n')) {
    const match = new RegExp(`^${line.source} ([\\d.e+-]+)$`).exec(row);
    if (match) return Number(match[1]);
  }
  return undefined;
}

beforeAll(async () => {
  const media = await tempDir('metrics');
  cleanup = media.cleanup;
  await makeMp4(join(media.dir, 'served.mp4'), { seconds: 1, faststart: true });
  comfy = await startFakeComfy({
    video: await readFile(join(media.dir, 'served.mp4')),
    steps: 4,
    stepDelayMs: 20,
  });
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

describe('GET /metrics', () => {
  it('counts a job and observes its durations on the process where each happened, behind METRICS_TOKEN', async () => {
    const worker = start('worker', { BACKEND: 'comfyui', COMFYUI_URL: comfy.url });
    const bot = start('bot', {
      DISCORD_TOKEN: discord.token,
      DISCORD_APPLICATION_ID: discord.applicationId,
      DISCORD_GUILD_ID: discord.guild().id,
      DISCORD_API_URL: discord.apiUrl,
    });
    await waitForOutput(worker, 'worker started');
    await waitForOutput(worker, '"msg":"HTTP');
    await waitForOutput(bot, '"msg":"HTTP');
    await waitForOutput(bot, 'chat platforms active');

    const refused = await scrape(bot, '');
    expect(refused.status).toBe(401);
    expect(refused.text).not.toContain('kinema_');
    expect((await scrape(worker, 'not-the-token')).status).toBe(401);

    const channelId = discord.guild().channels.find((channel) => channel.type === 0)!.id;
    discord.invokeSlashCommand({
      userId: ALICE,
      channelId,
      name: 'animate',
      options: {
        image: { bytes: await makePng(320, 240), filename: 'cat.png', contentType: 'image/png' },
        prompt: 'counted once',
      } as never,
    });
    await waitFor(
      () =>
        discord
          .messages(channelId)
          .find((message) => message.attachments.some((attachment) => attachment.filename.endsWith('.mp4'))),
      'the video in the channel',
      30_000,
    );

    // The worker: the outcome, the wait and the render, the queue and the workers; Node's own metrics.
    const atWorker = await waitFor(async () => {
      const scraped = await scrape(worker);
      // The job completes once its poster and last frame are stored, just after the video is posted.
      const done = sample(scraped.text, /kinema_queue_jobs\{state="completed"\}/) === 1;
      return (
        sample(scraped.text, /kinema_jobs_total\{[^}]*outcome="succeeded"[^}]*\}/) === 1 && done && scraped
      );
    }, 'the job counted at the worker');
    expect(atWorker.status).toBe(200);
    expect(atWorker.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(atWorker.text).toMatch(
      /kinema_jobs_total\{outcome="succeeded",model="[\w.-]+",backend="comfyui",platform="discord"\} 1/,
    );
    expect(sample(atWorker.text, /kinema_job_wait_seconds_count/)).toBe(1);
    expect(sample(atWorker.text, /kinema_job_render_seconds_count/)).toBe(1);
    expect(sample(atWorker.text, /kinema_job_render_seconds_sum/)).toBeGreaterThan(0);
    expect(sample(atWorker.text, /kinema_job_render_seconds_bucket\{le="600"\}/)).toBe(1);
    expect(sample(atWorker.text, /kinema_workers_online/)).toBe(1);
    expect(sample(atWorker.text, /kinema_queue_jobs\{state="active"\}/)).toBe(0);
    expect(sample(atWorker.text, /kinema_queue_jobs\{state="completed"\}/)).toBe(1);
    expect(atWorker.text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(atWorker.text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(atWorker.text).toMatch(/^# TYPE kinema_backend_errors_total counter/m);

    // The bot: the acknowledgement of the command and the delivery of the video.
    const atBot = await waitFor(async () => {
      const scraped = await scrape(bot);
      return sample(scraped.text, /kinema_job_delivery_seconds_count\{platform="discord"\}/) === 1 && scraped;
    }, 'the delivery observed at the bot');
    expect(sample(atBot.text, /kinema_ack_seconds_count\{platform="discord"\}/)).toBeGreaterThanOrEqual(1);
    expect(sample(atBot.text, /kinema_ack_seconds_bucket\{le="0\.01",platform="discord"\}/)).toBeDefined();
    expect(atBot.text).toMatch(/^# TYPE kinema_chat_rate_limited_total counter/m);
    expect(atBot.text).not.toContain(TOKEN);
  }, 60_000);
});
