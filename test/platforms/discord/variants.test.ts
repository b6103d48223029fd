import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurationHistory } from '../../../src/backends/durations.js';
import { InferenceBackend } from '../../../src/backends/inference-sh/backend.js';
import { normaliseForChat } from '../../../src/media/video.js';
import type { GenerationWorker } from '../../../src/queue/generation-worker.js';
import { type FakeInference, startFakeInference } from '../../fakes/inference-sh/server.js';
import { type DiscordHarness, FAST, startDiscordHarness } from '../../support/discord-harness.js';
import { FAST as FAST_INFERENCE } from '../../support/inference-sh-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

/**
 * `variants` end to end: the real bot on the fake Discord, a worker on the fake inference.sh (the
 * paid tasks), the real Redis. One command, N jobs with distinct seeds, one status message that
 * counts them, one message with every video; ❌ posts what is done; 🎲 on the group reruns it all.
 */

const redis = testRedis();
let h: DiscordHarness;
let fake: FakeInference;
let worker: GenerationWorker | undefined;

type Row = { components?: { label?: string; custom_id?: string }[] };
const botMessages = () => h.discord.messages(h.channelId).filter((m) => m.authorId === h.discord.botUserId);
const videoPosts = () =>
  botMessages().filter((m) => !m.deleted && m.attachments.some((a) => a.filename.endsWith('.mp4')));
const mp4s = (id: string) =>
  h.discord.message(id)?.attachments.filter((a) => a.filename.endsWith('.mp4')) ?? [];
const title = (id: string) =>
  (h.discord.message(id)?.embeds[0] as { title?: string } | undefined)?.title ?? '';
const footer = (id: string) =>
  (h.discord.message(id)?.embeds[0] as { footer?: { text?: string } } | undefined)?.footer?.text ?? '';
const statusOf = (jobId: string) =>
  botMessages().find((m) => !m.deleted && footer(m.id).startsWith(`Job ${jobId}`));
/** Every title the bot gave a message of this job, in order (the edits of its status). */
const titlesShown = (jobId: string) =>
  h.discord.requests
    .filter((r) => (r.method === 'PATCH' || r.method === 'POST') && r.status < 300)
    .flatMap((r) => {
      const embeds = (r.json as { embeds?: { title?: string; footer?: { text?: string } }[] } | null)?.embeds;
      const embed = embeds?.[0];
      return embed?.footer?.text?.startsWith(`Job ${jobId}`) && embed.title ? [embed.title] : [];
    });
const seedsSent = (from = 0) =>
  fake
    .runRequests()
    .slice(from)
    .map((run) => Number(run.input.seed));

async function startInferenceWorker(concurrency: number) {
  const backend = new InferenceBackend({
    apiUrl: fake.apiUrl,
    apiKey: fake.apiKey,
    durations: new DurationHistory(redis, `${h.config.KINEMA_PREFIX}-durations`),
    outputHosts: [fake.storageHost],
    ...FAST_INFERENCE,
  });
  worker = await h.pipeline.startWorker(backend, normaliseForChat, { ...FAST, concurrency });
}

async function animate(options: Record<string, unknown>) {
  await h.channelIdle();
  const invoked = h.discord.invokeSlashCommand({
    userId: h.userId,
    channelId: h.channelId,
    name: 'animate',
    options: {
      image: { bytes: h.png, filename: 'boat.png', contentType: 'image/png' },
      prompt: 'a boat drifts',
      ...options,
    } as never,
  });
  return { jobId: `dc-${invoked.id}`, text: await h.answer(invoked.id) };
}

beforeAll(async () => {
  h = await startDiscordHarness({
    // Three videos in flight per person: a group of 3 fits, one of 4 does not.
    MAX_ACTIVE_PER_USER: '2',
    MAX_QUEUED_PER_USER: '1',
    // Wan 2.1 is the default model; the fake still runs its retired app as its schema says.
  });
  fake = await startFakeInference({ video: h.video, retiredAppsRun: true, stepDelayMs: 20 });
  await h.startBot();
  await startInferenceWorker(3);
});

afterAll(async () => {
  await worker?.close();
  await h.worker?.close();
  await h.close(redis);
  await fake.close();
  await redis.quit();
});

describe('variants on Discord', () => {
  it('`variants: 3` makes 3 paid tasks with 3 seeds, one status counting them, one message with 3 videos', async () => {
    const before = videoPosts().length;
    const { jobId, text } = await animate({ variants: 3, seed: 100 });
    expect(text).toMatch(/0 of 3 done/);
    const post = await waitFor(
      () => videoPosts().find((m) => mp4s(m.id).length === 3),
      'one message with the 3 videos',
      30_000,
    );
    expect(fake.tasksCreated()).toBe(3);
    expect(seedsSent().sort()).toEqual([100, 101, 102]);
    expect(videoPosts().length).toBe(before + 1);
    // One status message, which became the result: it counted the videos as they came.
    expect(botMessages().filter((m) => !m.deleted && footer(m.id).startsWith(`Job ${jobId}`))).toHaveLength(
      1,
    );
    expect(titlesShown(jobId).every((shown) => /^\d of 3 done/.test(shown))).toBe(true);
    expect(title(post.id)).toBe('3 of 3 done');
    const rows = post.components as Row[];
    expect(rows).toHaveLength(3);
    expect(rows.map((row) => row.components?.[0]?.label)).toEqual([
      '#1 Rerun (new seed)',
      '#2 Rerun (new seed)',
      '#3 Rerun (new seed)',
    ]);
    expect(new Set(rows.map((row) => row.components?.[0]?.custom_id)).size).toBe(3);
    expect(post.content).toContain('seed 101');
  });

  it('🎲 on the group reruns all 3 with new seeds, again as one group', async () => {
    const post = videoPosts().find((m) => mp4s(m.id).length === 3)!;
    const tasksBefore = fake.tasksCreated();
    const postsBefore = videoPosts().length;
    h.discord.addReaction({ channelId: h.channelId, messageId: post.id, userId: h.userId, emoji: '🎲' });
    await waitFor(() => videoPosts().length === postsBefore + 1, 'the rerun group posted', 30_000);
    expect(fake.tasksCreated()).toBe(tasksBefore + 3);
    const latest = videoPosts().at(-1)!;
    expect(mp4s(latest.id)).toHaveLength(3);
    expect(new Set(seedsSent(tasksBefore)).size).toBe(3);
  });

  it('refuses variants over the cap, clearly, without a paid task', async () => {
    const tasksBefore = fake.tasksCreated();
    const { text } = await animate({ variants: 4 });
    expect(text).toMatch(/You asked for 4 variants at once/);
    expect(text).toMatch(/nothing was queued/);
    expect(fake.tasksCreated()).toBe(tasksBefore);
    expect(await h.pipeline.queue.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      prioritized: 0,
    });
  });

  it('❌ on the group cancels the rest and posts the one that is done', async () => {
    // The scripted render service: its tasks are released one by one.
    await worker?.close();
    worker = undefined;
    h.service.holdNewTasks(true);
    await h.startWorker(3);
    const { jobId } = await animate({ variants: 3 });
    const first = await waitFor(() => h.service.tasks().find((t) => t.held), 'a held task');
    await waitFor(() => h.service.tasks().filter((t) => t.held).length === 2, 'two held tasks (the cap)');
    h.service.release(first.id);
    const status = await waitFor(() => statusOf(jobId), 'the group status');
    await waitFor(
      () => /^1 of 3 done/.test(title(status.id)),
      'the status to count the finished one',
      30_000,
    );
    const postsBefore = videoPosts().length;
    h.discord.addReaction({ channelId: h.channelId, messageId: status.id, userId: h.userId, emoji: '❌' });
    await waitFor(() => videoPosts().length === postsBefore + 1, 'the finished video posted', 30_000);
    const post = videoPosts().at(-1)!;
    expect(mp4s(post.id)).toHaveLength(1);
    expect(title(post.id)).toBe('1 of 3 done · 2 cancelled');
    h.service.holdNewTasks(false);
    h.service.release();
  });
});
