import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AdminActor } from '../../../src/service/admin-desk.js';
import { type DiscordHarness, startDiscordHarness } from '../../support/discord-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

/** The fair queue and the per-person caps, end to end through /animate on the fake Discord. */
const redis = testRedis();
let h: DiscordHarness;
let people: Record<'A' | 'B' | 'C', string>;

const botMessages = (channelId = h.channelId) =>
  h.discord.messages(channelId).filter((m) => m.authorId === h.discord.botUserId);
const embed = (id: string) =>
  (h.discord.message(id)?.embeds[0] ?? {}) as { title?: string; footer?: { text?: string } };
const statusOf = (jobId: string, channelId = h.channelId) =>
  botMessages(channelId).find((m) => embed(m.id).footer?.text?.startsWith(`Job ${jobId}`));
/** What the person was first shown: a private refusal, or the status their public reply became. */
const reply = (interactionId: string) => h.answer(interactionId);

async function animate(userId: string, prompt: string, where: { guildId?: string; channelId?: string } = {}) {
  const invoked = h.discord.invokeSlashCommand({
    userId,
    channelId: where.channelId ?? h.channelId,
    ...(where.guildId ? { guildId: where.guildId } : {}),
    name: 'animate',
    options: { image: { bytes: h.png, filename: 'cat.png', contentType: 'image/png' }, prompt } as never,
  });
  return { jobId: `dc-${invoked.id}`, text: await reply(invoked.id) };
}

beforeAll(async () => {
  const ids = { alice: '310000000000000001', bob: '310000000000000002', mod: '310000000000000003' };
  h = await startDiscordHarness(
    { MAX_ACTIVE_PER_USER: '20', MAX_QUEUED_PER_USER: '50' },
    {
      guilds: [
        {
          name: 'Studio',
          channels: [{ name: 'general' }],
          members: [{ userId: ids.alice }, { userId: ids.bob }, { userId: ids.mod }],
        },
        {
          name: 'Gallery',
          channels: [{ name: 'art' }],
          members: [{ userId: ids.alice }],
        },
      ],
      channelBudget: false,
    },
  );
  people = { A: h.userId, B: h.otherUserId, C: h.moderatorId };
  await h.startBot();
  await h.startWorker(1);
});

afterEach(async () => {
  h.service.holdNewTasks(false);
  h.service.release();
  await waitFor(async () => (await h.pipeline.queue.queue.getActiveCount()) === 0, 'an idle queue');
});

afterAll(async () => {
  await h.close(redis);
  await redis.quit();
});

describe('the fair queue through /animate', () => {
  it('starts B and C 2nd and 3rd after A sent 10, and the status messages show the real positions', async () => {
    h.service.holdNewTasks(true);
    const labels = new Map<string, string>();
    for (let n = 1; n <= 10; n += 1) labels.set((await animate(people.A, `A${n}`)).jobId, `A${n}`);
    labels.set((await animate(people.B, 'B1')).jobId, 'B1');
    labels.set((await animate(people.C, 'C1')).jobId, 'C1');
    const idOf = (label: string) => [...labels].find(([, l]) => l === label)![0];

    const expected = ['A1', 'B1', 'C1', 'A2', 'A3', 'A4', 'A5', 'A6', 'A7', 'A8', 'A9', 'A10'];
    // Everyone waiting behind A1 sees their place in the order the worker will really take them.
    for (const [index, label] of expected.slice(1).entries()) {
      await waitFor(
        () => embed(statusOf(idOf(label))?.id ?? '').title === `Queued: #${index + 1} of 11`,
        `${label}'s status to say #${index + 1} of 11`,
      );
    }

    h.service.holdNewTasks(false);
    h.service.release();
    await waitFor(
      async () => (await h.pipeline.queue.queue.getJobCountByTypes('completed')) >= 12,
      'twelve finished jobs',
      60_000,
    );
    const byTask = new Map<string, string>();
    for (const [jobId, label] of labels) {
      const taskId = (await h.pipeline.queue.queue.getJob(jobId))?.data.remote?.taskId;
      if (taskId) byTask.set(taskId, label);
    }
    const started = h.service.tasks().flatMap((task) => byTask.get(task.id) ?? []);
    expect(started).toEqual(expected);
  });
});

describe('per-person caps across servers', () => {
  it('counts one person across two servers and names where their jobs are', async () => {
    const studio = h.discord.guild('Studio').id;
    const gallery = h.discord.guild('Gallery').id;
    const art = h.discord.channelId('art', 'Gallery');
    for (const serverId of [studio, gallery]) {
      const admin: AdminActor = { platform: 'discord', userId: people.A, serverId, serverAdmin: true };
      expect(await h.api!.admin.setSetting(admin, 'max_active_per_user', '1')).toMatchObject({ ok: true });
      expect(await h.api!.admin.setSetting(admin, 'max_queued_per_user', '1')).toMatchObject({ ok: true });
    }
    h.service.holdNewTasks(true);
    const first = await animate(people.A, 'rendering in the studio');
    await waitFor(
      async () => (await h.pipeline.queue.state(first.jobId)) === 'active',
      'the first to render',
    );
    const second = await animate(people.A, 'waiting in the gallery', { guildId: gallery, channelId: art });
    expect(second.text).toMatch(/^Queued/);
    expect(statusOf(second.jobId, art)).toBeDefined();
    const before = h.service.submissions();

    const third = await animate(people.A, 'one too many');
    expect(third.text).toBe(
      `You have 1 video rendering (in <#${h.channelId}> on Studio) and 1 waiting (in <#${art}> on Gallery). ` +
        'Each person may have 1 rendering at once and 1 more waiting behind them. Wait for one to finish, or cancel one with ❌.',
    );
    expect(await h.pipeline.queue.queue.getJob(third.jobId)).toBeUndefined();
    // Another person in the same server is not held to A's jobs.
    const other = await animate(people.B, 'someone else');
    expect(other.text).toMatch(/^Queued/);
    expect(h.service.submissions()).toBe(before);
    for (const job of [other, second, first]) await h.pipeline.cancel({ jobId: job.jobId });
  });
});
