import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AdminActor } from '../../../src/service/admin-desk.js';
import { RefusedError } from '../../../src/service/refusals.js';
import { Perm } from '../../fakes/discord/index.js';
import { type DiscordHarness, MODERATORS_ROLE, startDiscordHarness } from '../../support/discord-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

/**
 * Running Kinema for a community, end to end on the fake Discord with the real classifier (on by
 * default here): moderation of prompts, input images and results, quotas, a paused server,
 * per-server settings without a restart, prices and the audit log.
 */
const redis = testRedis();
let h: DiscordHarness;
let admin: AdminActor;

const botMessages = (channelId = h.channelId) =>
  h.discord.messages(channelId).filter((m) => m.authorId === h.discord.botUserId);
const videoPosts = () => botMessages().filter((m) => m.attachments.some((a) => a.filename.endsWith('.mp4')));
const embed = (id: string) =>
  (h.discord.message(id)?.embeds[0] ?? {}) as { title?: string; footer?: { text?: string } };
const statusOf = (jobId: string) =>
  botMessages().find((m) => embed(m.id).footer?.text?.startsWith(`Job ${jobId}`));
/** What the person was first shown: a private refusal, or the status their public reply became. */
const reply = (interactionId: string) => h.answer(interactionId);

async function animate(userId: string, prompt: string, channelId = h.channelId) {
  const invoked = h.discord.invokeSlashCommand({
    userId,
    channelId,
    name: 'animate',
    options: { image: { bytes: h.png, filename: 'cat.png', contentType: 'image/png' }, prompt } as never,
  });
  return { jobId: `dc-${invoked.id}`, text: await reply(invoked.id) };
}

/** Messages the bot sent in DMs (channels that belong to no server). */
function directMessages(): string[] {
  const guildChannels = new Set([h.channelId, h.discord.channelId('after-dark')]);
  const dmChannels = new Set(
    h.discord.requests
      .filter((r) => r.method === 'POST' && r.route === '/channels/:channel_id/messages')
      .map((r) => r.path.split('/')[2]!)
      .filter((id) => !guildChannels.has(id)),
  );
  return [...dmChannels].flatMap((id) => h.discord.messages(id).map((m) => m.content));
}

const settle = (jobId: string) =>
  waitFor(
    async () => (await h.pipeline.queue.queue.getJob(jobId))?.finishedOn !== undefined,
    `${jobId} to end`,
  );

beforeAll(async () => {
  h = await startDiscordHarness(
    {
      MODERATION_IMAGES: 'true',
      MODERATION_BLOCKLIST: 'lava',
      PRICE_TABLE: 'wan2.1=0.10,wan2.2-5b@480p=0.15,wan2.2-5b@720p=0.25',
      MAX_ACTIVE_PER_USER: '5',
      MAX_QUEUED_PER_USER: '5',
    },
    {
      guilds: [
        {
          name: 'Studio',
          roles: [{ id: MODERATORS_ROLE, name: 'Moderators', permissions: Perm.ManageMessages }],
          channels: [{ name: 'general' }, { name: 'after-dark', nsfw: true }],
          members: [
            { userId: '310000000000000001' },
            { userId: '310000000000000002' },
            { userId: '310000000000000003', roles: ['Moderators'] },
          ],
          botRoles: ['Moderators'],
        },
      ],
      channelBudget: false,
    },
  );
  await h.startBot();
  await h.startWorker(1);
  admin = {
    platform: 'discord',
    userId: h.moderatorId,
    serverId: h.discord.guild('Studio').id,
    serverAdmin: true,
  };
});

afterEach(async () => {
  h.service.holdNewTasks(false);
  h.service.release();
  await waitFor(async () => (await h.pipeline.queue.queue.getActiveCount()) === 0, 'an idle queue');
  for (const name of ['moderation_nsfw_threshold', 'quota_per_user_per_day', 'model']) {
    await h.api!.admin.resetSetting(admin, name);
  }
});

afterAll(async () => {
  await h.close(redis);
  await redis.quit();
});

describe('moderation through /animate', () => {
  it('refuses a blocked prompt privately, without repeating the term and without a paid task', async () => {
    const before = h.service.submissions();
    const operator = await animate(h.userId, 'a river of LAVA at night');
    expect(operator.text).toBe(
      "Your prompt contains a word this bot's operator does not allow; nothing was queued. Reword it and try again.",
    );
    const builtIn = await animate(h.userId, 'a f.u.c.k.i.n.g cat');
    expect(builtIn.text).toMatch(/^Your prompt contains a word this bot does not allow/);
    expect(`${operator.text}${builtIn.text}`.toLowerCase()).not.toMatch(/lava|f\.?u\.?c\.?k/);
    expect(await h.pipeline.queue.queue.getJob(operator.jobId)).toBeUndefined();
    expect(h.service.submissions()).toBe(before);
    const audit = await h.api!.community.audit.get(operator.jobId);
    expect(audit).toMatchObject({
      outcome: 'refused',
      textVerdict: { status: 'flagged', field: 'prompt', category: 'operator' },
      requesterId: h.userId,
      serverId: h.discord.guild('Studio').id,
    });
  });

  it('passes a plain image, posts it with its estimated cost, and audits it; the same image is refused once the server’s threshold is 0', async () => {
    const done = await animate(h.userId, 'a calm lake');
    expect(done.text).toMatch(/^Queued/);
    const post = await waitFor(
      () => videoPosts().find((m) => m.content.includes('a calm lake')),
      'the video',
    );
    expect(post.content).toContain('≈ 0.10 USD');
    await waitFor(
      async () => (await h.api!.community.audit.get(done.jobId))?.outcome === 'completed',
      'the audit outcome',
    );
    expect(await h.api!.community.audit.get(done.jobId)).toMatchObject({
      textVerdict: { status: 'ok' },
      inputVerdict: { status: 'ok' },
      resultVerdict: { status: 'ok' },
      cost: { amount: 0.1, currency: 'USD' },
      prompt: 'a calm lake',
      channelId: h.channelId,
    });

    // Stricter for this server, from now on: no restart, the next request reads it.
    expect(await h.api!.admin.setSetting(admin, 'moderation_nsfw_threshold', '0')).toEqual({
      ok: true,
      value: 0,
    });
    const before = h.service.submissions();
    const refused = await animate(h.userId, 'a calm lake again');
    expect(refused.text).toBe(
      'Your image looks like explicit content, which is not allowed here; nothing was queued.',
    );
    expect(h.service.submissions()).toBe(before);
    expect(await h.pipeline.queue.queue.getJob(refused.jobId)).toBeUndefined();
    expect(await h.api!.community.audit.get(refused.jobId)).toMatchObject({
      outcome: 'refused',
      inputVerdict: { status: 'flagged', category: 'explicit' },
    });
  });

  it('withholds a flagged result: nothing posted, the video deleted, the requester told by DM', async () => {
    h.service.holdNewTasks(true);
    const job = await animate(h.otherUserId, 'a quiet street');
    await waitFor(() => h.service.tasks().some((task) => task.held), 'the render to start');
    // The input passed; the server tightens its threshold while the video renders.
    await h.api!.admin.setSetting(admin, 'moderation_nsfw_threshold', '0');
    const postsBefore = botMessages().length;
    h.service.holdNewTasks(false);
    h.service.release();
    await settle(job.jobId);
    const status = statusOf(job.jobId)!;
    await waitFor(
      () => /not posted/.test(embed(status.id).title ?? ''),
      'the status to say it was not posted',
    );
    expect(embed(status.id).title).toBe('Finished, but not posted here (it did not pass the content check)');
    const dm = await waitFor(
      () => directMessages().find((text) => text.includes(job.jobId)),
      'a DM to the requester',
    );
    expect(dm).toMatch(/^Your video was made but not posted: part of it looks like explicit content/);
    expect(botMessages()).toHaveLength(postsBefore);
    expect(videoPosts().some((m) => m.content.includes('a quiet street'))).toBe(false);
    expect(await h.pipeline.blobs.open(`result-${job.jobId}`)).toBeUndefined();
    await waitFor(
      async () => (await h.api!.community.audit.get(job.jobId))?.outcome === 'withheld',
      'the audit outcome',
    );
    expect(await h.api!.community.audit.get(job.jobId)).toMatchObject({
      resultVerdict: { status: 'flagged', category: 'explicit', frame: 0 },
      cost: { amount: 0.1, currency: 'USD' },
    });
    expect(
      (await h.api!.members.jobsOf({ platform: 'discord', userId: h.otherUserId })).recent[0],
    ).toMatchObject({
      jobId: job.jobId,
      outcome: 'withheld',
    });
  });

  it('allows flagged images in an age-restricted channel when the setting says so, and nowhere else', async () => {
    const server = `discord:${admin.serverId}`;
    // Looser than the environment: a bot owner's call (here set as the operator would).
    await h.api!.community.settings.set(server, 'moderation_allow_in_nsfw_channels', 'true');
    await h.api!.admin.setSetting(admin, 'moderation_nsfw_threshold', '0');
    const afterDark = h.discord.channelId('after-dark');
    const elsewhere = await animate(h.userId, 'flagged in general');
    expect(elsewhere.text).toBe(
      'Your image looks like explicit content, which is not allowed here; nothing was queued. It is allowed in channels marked age-restricted.',
    );
    const there = await animate(h.userId, 'flagged after dark', afterDark);
    expect(there.text).toMatch(/^Queued/);
    expect((await h.pipeline.queue.queue.getJob(there.jobId))?.data.reportTo.ageRestricted).toBe(true);
    await waitFor(
      () =>
        botMessages(afterDark).find(
          (m) => m.content.includes('flagged after dark') && m.attachments.length > 0,
        ),
      'the video in the age-restricted channel',
    );
    await h.api!.community.settings.reset(server, 'moderation_allow_in_nsfw_channels');
  });
});

describe('quotas, pauses and settings through /animate', () => {
  it('refuses over quota with when it frees up, and creates no paid task', async () => {
    await h.api!.admin.setSetting(admin, 'quota_per_user_per_day', '1');
    const first = await animate(h.moderatorId, 'the one video of the day');
    await settle(first.jobId);
    const submittedAt = Date.now();
    const before = h.service.submissions();
    const second = await animate(h.moderatorId, 'one more');
    const match =
      /^You have reached your quota of 1 video per 24 hours \(1 made\); nothing was queued\. The next one frees up <t:(\d+):R>\.$/.exec(
        second.text,
      );
    expect(match).not.toBeNull();
    const freesAt = Number(match![1]) * 1000;
    expect(freesAt).toBeGreaterThan(submittedAt + 23 * 3_600_000);
    expect(freesAt).toBeLessThanOrEqual(submittedAt + 24 * 3_600_000 + 1000);
    expect(h.service.submissions()).toBe(before);
    expect(await h.pipeline.queue.queue.getJob(second.jobId)).toBeUndefined();
  });

  it('takes nothing new in a paused server, holds its waiting jobs, and runs them once resumed', async () => {
    h.service.holdNewTasks(true);
    const running = await animate(h.userId, 'already rendering');
    await waitFor(() => h.service.tasks().some((task) => task.held), 'the first render');
    const waiting = await animate(h.otherUserId, 'waiting when paused');
    expect(waiting.text).toMatch(/^Queued/);
    expect(await h.api!.admin.pauseServer(admin)).toMatchObject({ server: { by: h.moderatorId } });

    const refused = await animate(h.otherUserId, 'sent while paused');
    expect(refused.text).toBe(
      'Kinema is paused in this server by its admins; nothing was queued. Try again once it is resumed.',
    );
    // The running job finishes; the waiting one is taken and put back, not started.
    const tasks = h.service.tasks().length;
    h.service.release();
    await settle(running.jobId);
    await waitFor(
      async () => (await h.pipeline.queue.queue.getJob(waiting.jobId))?.data.held === 'paused',
      'the waiting job held back',
    );
    await waitFor(
      () => embed(statusOf(waiting.jobId)!.id).title?.startsWith('Paused') === true,
      'its status to say it is paused',
    );
    expect(h.service.tasks()).toHaveLength(tasks);

    expect(await h.api!.admin.resumeServer(admin)).toMatchObject({ resumed: 1 });
    h.service.holdNewTasks(false);
    await waitFor(() => videoPosts().some((m) => m.content.includes('waiting when paused')), 'its video');
  });

  it('applies a server’s settings to the next job without a restart, validated like the environment', async () => {
    const member: AdminActor = { ...admin, userId: h.userId, serverAdmin: false };
    await expect(h.api!.admin.setSetting(member, 'model', 'wan2.2-5b')).rejects.toBeInstanceOf(RefusedError);
    expect(await h.api!.admin.setSetting(admin, 'max_active_per_user', '0')).toEqual({
      ok: false,
      error: 'max_active_per_user must be a whole number from 1 to 100',
    });
    expect(await h.api!.admin.setSetting(admin, 'moderation_images', 'off')).toMatchObject({ ok: false });
    expect(await h.api!.admin.setSetting(admin, 'model', 'wan2.2-5b')).toEqual({
      ok: true,
      value: 'wan2.2-5b',
    });
    const job = await animate(h.userId, 'a lighthouse');
    expect((await h.pipeline.queue.queue.getJob(job.jobId))?.data.request.model).toBe('wan2.2-5b');
    const post = await waitFor(
      () => videoPosts().find((m) => m.content.includes('a lighthouse')),
      'the video',
    );
    expect(post.content).toMatch(/5B/);
    expect(post.content).toContain('≈ 0.25 USD');
    const view = await h.api!.admin.settings(admin);
    expect(view.overrides).toEqual({ model: 'wan2.2-5b' });
    expect(view.values.max_active_per_user).toBe(5);
  });
});
