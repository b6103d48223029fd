import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CUSTOM_ID } from '../../../src/platforms/discord/render.js';
import { type DiscordHarness, MODERATORS_ROLE, startDiscordHarness } from '../../support/discord-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

const redis = testRedis();
let h: DiscordHarness;

const reply = (interactionId: string) => h.answer(interactionId);

beforeAll(async () => {
  h = await startDiscordHarness({ DISCORD_ALLOWED_ROLES: MODERATORS_ROLE });
  await h.startBot();
  await h.startWorker();
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await redis.quit();
});

describe('the role allowlist', () => {
  it('applies to /animate and to reruns alike', async () => {
    const image = { bytes: h.png, filename: 'a.png', contentType: 'image/png' };
    const refused = h.discord.invokeSlashCommand({
      userId: h.otherUserId,
      channelId: h.channelId,
      name: 'animate',
      options: { image, prompt: 'not allowed' } as never,
    });
    expect(await reply(refused.id)).toMatch(/You need one of the roles allowed/);

    const allowed = h.discord.invokeSlashCommand({
      userId: h.moderatorId,
      channelId: h.channelId,
      name: 'animate',
      options: { image, prompt: 'allowed' } as never,
    });
    expect(await reply(allowed.id)).toMatch(/Queued/);
    const result = await waitFor(
      () =>
        h.discord.messages(h.channelId).find((m) => m.attachments.some((a) => a.filename.endsWith('.mp4'))),
      'the video',
    );
    const jobsBefore = await h.pipeline.queue.queue.getJobCounts();
    const click = h.discord.clickButton({
      messageId: result.id,
      customId: CUSTOM_ID.rerun(`dc-${allowed.id}`),
      userId: h.otherUserId,
    });
    expect(await reply(click.id)).toMatch(/You need one of the roles allowed/);
    expect(await h.pipeline.queue.queue.getJobCounts()).toEqual(jobsBefore);
  });

  it("refuses /animate in a channel the server's settings leave out: read after the public defer, the reply is withdrawn and the person told privately, nothing queued", async () => {
    const actor = {
      platform: 'discord',
      userId: h.moderatorId,
      serverId: h.discord.guild('Studio').id,
      serverAdmin: true,
    };
    const elsewhere = '399999999999999999';
    expect((await h.api!.admin.setSetting(actor, 'allowed_channels', elsewhere)).ok).toBe(true);
    try {
      const jobsBefore = await h.pipeline.queue.queue.getJobCounts();
      const invoked = h.discord.invokeSlashCommand({
        userId: h.moderatorId,
        channelId: h.channelId,
        name: 'animate',
        options: {
          image: { bytes: h.png, filename: 'a.png', contentType: 'image/png' },
          prompt: 'not in this channel',
        } as never,
      });
      expect(await reply(invoked.id)).toBe(`Kinema is not enabled in this channel; try <#${elsewhere}>.`);
      // The public reply of the defer does not stay in the channel.
      const original = h.discord.interaction(invoked.id)!.originalMessageId!;
      await waitFor(() => h.discord.message(original)?.deleted, 'the public reply withdrawn');
      expect(await h.pipeline.queue.queue.getJobCounts()).toEqual(jobsBefore);
    } finally {
      await h.api!.admin.resetSetting(actor, 'allowed_channels');
    }
  });
});
