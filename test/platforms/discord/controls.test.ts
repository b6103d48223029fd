import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CUSTOM_ID } from '../../../src/platforms/discord/render.js';
import { type DiscordHarness, startDiscordHarness } from '../../support/discord-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

const redis = testRedis();
let h: DiscordHarness;

const botMessages = () => h.discord.messages(h.channelId).filter((m) => m.authorId === h.discord.botUserId);
const videoPosts = () => botMessages().filter((m) => m.attachments.some((a) => a.filename.endsWith('.mp4')));
const title = (id: string) =>
  (h.discord.message(id)?.embeds[0] as { title?: string } | undefined)?.title ?? '';
const footer = (id: string) =>
  (h.discord.message(id)?.embeds[0] as { footer?: { text?: string } } | undefined)?.footer?.text ?? '';
const statusOf = (jobId: string) =>
  botMessages().find((m) => !m.deleted && footer(m.id).startsWith(`Job ${jobId}`));
const reply = (interactionId: string) => h.answer(interactionId);

async function animate(userId: string, prompt = 'a boat drifts') {
  // The status shows "Queued" first when the channel has room; else its first state is a later one.
  await h.channelIdle();
  const invoked = h.discord.invokeSlashCommand({
    userId,
    channelId: h.channelId,
    name: 'animate',
    options: { image: { bytes: h.png, filename: 'boat.png', contentType: 'image/png' }, prompt } as never,
  });
  const text = await reply(invoked.id);
  return { jobId: `dc-${invoked.id}`, text };
}

beforeAll(async () => {
  h = await startDiscordHarness(
    {
      MAX_ACTIVE_PER_USER: '1',
      MAX_QUEUED_PER_USER: '1',
      PUBLIC_URL: 'https://kinema.example',
    },
    // Two edits of an old message per minute: the 30046 test then does not depend on how fast the
    // job's progress edits follow each other (Discord does not publish the number, D7).
    { oldMessageEditLimit: { count: 2, windowMs: 60_000 } },
  );
  await h.startBot();
  await h.startWorker(1);
});

afterEach(async () => {
  h.service.holdNewTasks(false);
  h.service.release();
  h.discord.clearRateLimits();
  await waitFor(async () => (await h.pipeline.queue.queue.getActiveCount()) === 0, 'an idle queue');
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await redis.quit();
});

describe('Discord controls: cancel, caps, rerun after a restart', () => {
  it('cancels a waiting job by ❌ and a running one by button, only for the owner or a moderator', async () => {
    h.service.holdNewTasks(true);
    const running = await animate(h.userId, 'first');
    await waitFor(() => h.service.tasks().some((t) => t.held && t.status !== 'cancelled'), 'the first task');
    const waiting = await animate(h.userId, 'second');
    expect(waiting.text).toMatch(/Queued: #1 of 1/);
    const waitingStatus = await waitFor(() => statusOf(waiting.jobId), 'the waiting status');
    await waitFor(() => /Queued: #1 of 1/.test(title(waitingStatus.id)), 'the queue position');

    h.discord.addReaction({
      channelId: h.channelId,
      messageId: waitingStatus.id,
      userId: h.userId,
      emoji: '❌',
    });
    await waitFor(() => /^Cancelled/.test(title(waitingStatus.id)), 'the waiting job to show cancelled');
    expect(await h.pipeline.queue.state(waiting.jobId)).toBe('unknown');
    await waitFor(
      () => h.discord.message(waitingStatus.id)?.reactions.every((r) => !r.userIds.includes(h.userId)),
      "the user's reaction to be removed",
    );

    const runningStatus = await waitFor(() => statusOf(running.jobId), 'the running status');
    const stranger = h.discord.clickButton({
      messageId: runningStatus.id,
      customId: CUSTOM_ID.cancel(running.jobId),
      userId: h.otherUserId,
    });
    expect(await reply(stranger.id)).toMatch(/only the person who asked/i);
    expect(await h.pipeline.queue.state(running.jobId)).toBe('active');

    const moderator = h.discord.clickButton({
      messageId: runningStatus.id,
      customId: CUSTOM_ID.cancel(running.jobId),
      userId: h.moderatorId,
    });
    expect(await reply(moderator.id)).toMatch(/Cancelling/);
    await waitFor(
      () => /^Cancelled by mod/.test(title(runningStatus.id)),
      'the running job to show cancelled',
    );
    expect(h.service.tasks().find((t) => t.cancelRequests > 0)?.status).toBe('cancelled');
  });

  it('refuses a request over the per-user caps and says where the user stands', async () => {
    h.service.holdNewTasks(true);
    const first = await animate(h.otherUserId, 'one');
    await waitFor(
      async () => (await h.pipeline.queue.state(first.jobId)) === 'active',
      'the first job to run',
    );
    const second = await animate(h.otherUserId, 'two');
    expect(second.text).toMatch(/Queued/);
    const before = await h.pipeline.queue.queue.getJobCounts('waiting', 'active');
    const third = await animate(h.otherUserId, 'three');
    const here = `in <#${h.channelId}> on Studio`;
    expect(third.text).toContain(`You have 1 video rendering (${here}) and 1 waiting (${here}).`);
    expect(await h.pipeline.queue.queue.getJobCounts('waiting', 'active')).toEqual(before);
    await h.pipeline.cancel({ jobId: second.jobId });
    await h.pipeline.cancel({ jobId: first.jobId });
  });

  it('reruns from a reaction and from the button after the bot restarted, once per double reaction', async () => {
    const original = await animate(h.userId, 'a lighthouse at night');
    const firstPost = await waitFor(
      () => videoPosts().find((m) => m.content.includes('a lighthouse')),
      'the first video',
    );
    const seed = /seed (\d+)/.exec(firstPost.content)![1];

    await h.stopBot();
    await h.startBot();

    const jobsBefore = (await h.pipeline.queue.queue.getJobs(['completed', 'active', 'waiting'])).length;
    h.discord.addReaction({ channelId: h.channelId, messageId: firstPost.id, userId: h.userId, emoji: '🎲' });
    h.discord.removeReaction({
      channelId: h.channelId,
      messageId: firstPost.id,
      userId: h.userId,
      emoji: '🎲',
    });
    h.discord.addReaction({ channelId: h.channelId, messageId: firstPost.id, userId: h.userId, emoji: '🎲' });
    const rerunPost = await waitFor(
      () => videoPosts().find((m) => m.id !== firstPost.id && m.content.includes('a lighthouse')),
      'the rerun video',
    );
    expect(rerunPost.content).toContain(`Rerun of https://discord.com/channels/`);
    expect(rerunPost.content).toContain(firstPost.id);
    expect(/seed (\d+)/.exec(rerunPost.content)![1]).not.toBe(seed);
    const jobsAfter = (await h.pipeline.queue.queue.getJobs(['completed', 'active', 'waiting'])).length;
    expect(jobsAfter - jobsBefore).toBe(1);

    await h.channelIdle();
    const click = h.discord.clickButton({
      messageId: firstPost.id,
      customId: CUSTOM_ID.rerun(original.jobId),
      userId: h.otherUserId,
    });
    expect(await reply(click.id)).toMatch(/Queued/);
    await waitFor(
      () => videoPosts().filter((m) => m.content.includes('a lighthouse')).length === 3,
      'the button rerun video',
    );
  });

  it('re-encodes a video over the upload limit, and posts a link with a poster when it cannot fit', async () => {
    const small = h.discord.invokeSlashCommand({
      userId: h.userId,
      channelId: h.channelId,
      name: 'animate',
      attachmentSizeLimit: Math.floor(h.video.length * 0.7),
      options: {
        image: { bytes: h.png, filename: 'b.png', contentType: 'image/png' },
        prompt: 'fit me',
      } as never,
    });
    await reply(small.id);
    const fitted = await waitFor(
      () => videoPosts().find((m) => m.content.includes('fit me')),
      'the fitted video',
    );
    expect(fitted.attachments[0]!.size).toBeLessThanOrEqual(Math.floor(h.video.length * 0.7));

    const tiny = h.discord.invokeSlashCommand({
      userId: h.userId,
      channelId: h.channelId,
      name: 'animate',
      attachmentSizeLimit: 2048,
      options: {
        image: { bytes: h.png, filename: 'b.png', contentType: 'image/png' },
        prompt: 'too big',
      } as never,
    });
    await reply(tiny.id);
    const linked = await waitFor(
      () => botMessages().find((m) => m.content.includes('too big') && m.attachments.length > 0),
      'the link post',
    );
    expect(linked.attachments[0]!.filename).toMatch(/poster\.jpg$/);
    const url = /https:\/\/kinema\.example\/videos\/([^\s/]+)\/\S+/.exec(linked.content);
    expect(url).not.toBeNull();
  });

  it('moves the status to a fresh message when Discord caps edits on an old one (30046), and waits out a 429', async () => {
    h.service.holdNewTasks(true);
    const job = await animate(h.userId, 'old message');
    const first = await waitFor(() => statusOf(job.jobId), 'the status message');
    h.discord.ageMessage(first.id, 2 * 3600 * 1000);
    // Edits go through the interaction's token while it lives, and the bot token after.
    h.discord.setRateLimit(/^PATCH \/(channels|webhooks\/[^/]+)\/[^/]+\/messages\/[^/]+$/, 1, 0.05);
    // The job's progress edits reach the old message only when the channel has room for them.
    await h.channelIdle();
    h.service.release();
    // Found whether or not the old one is gone yet (the bot posts the fresh one first, then deletes).
    const moved = await waitFor(
      () => botMessages().find((m) => m.id !== first.id && footer(m.id).startsWith(`Job ${job.jobId}`)),
      'a fresh status message',
    );
    // The fake keeps deleted messages: an unknown id and a message left behind both fail here.
    await waitFor(() => h.discord.message(first.id)?.deleted, 'the old status message to be deleted');
    expect(h.discord.message(first.id)).toMatchObject({ id: first.id, deleted: true });
    await waitFor(() => title(moved.id) === 'Done', 'the fresh status to finish');
    const edits = h.discord.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/messages/'));
    expect(edits.some((r) => r.status === 429)).toBe(true);
    expect(edits.some((r) => r.code === 30046)).toBe(true);
  });
});
