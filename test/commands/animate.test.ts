import {
  type ChatInputCommandInteraction,
  MessageFlags,
  PermissionFlagsBits,
  PermissionsBitField,
} from 'discord.js';
import { describe, expect, it } from 'vitest';
import { execute } from '../../commands/animate.js';
import { UserFacingError } from '../../src/core/errors.js';
import type { SubmitInput } from '../../src/service/generation-service.js';
import {
  BOT_PERMISSIONS,
  CHANNEL,
  fakeDiscordContext,
  GUILD,
  INTERACTION,
  interactionBase,
  publicDefers,
  REPLY,
  USER,
} from '../support/discord-commands.js';
import { STUB_SEED } from '../support/stub-service.js';

/** `/animate`'s `execute` alone, with a fake interaction (the end-to-end runs: test/platforms/discord). */

const IMAGE = {
  url: 'https://cdn.discordapp.com/attachments/1/2/cat.png',
  name: 'cat.png',
  size: 2048,
  contentType: 'image/png',
};

function invoke(options: Record<string, unknown>, attachments: Record<string, unknown> = { image: IMAGE }) {
  const kit = fakeDiscordContext();
  const interaction = {
    ...interactionBase(),
    options: {
      get: (name: string) => (name in options ? { name, value: options[name] } : null),
      getString: (name: string) => (typeof options[name] === 'string' ? options[name] : null),
      getAttachment: (name: string) => attachments[name] ?? null,
    },
  };
  const run = () => execute(interaction as unknown as ChatInputCommandInteraction, kit.context);
  return { ...kit, interaction, run };
}

describe('/animate (the command file)', () => {
  it('acknowledges publicly first, submits what was asked, and shows the status in that reply', async () => {
    const kit = invoke({ prompt: 'a boat drifts', num_frames: 49, advanced: 'shift=3' });
    await kit.run();
    // One public "thinking" reply (type 5, not ephemeral), sent before anything else.
    const defers = publicDefers(kit.interaction);
    expect(defers).toHaveLength(1);
    expect(defers[0]!.body.data?.flags ?? 0).toBe(0);
    expect(defers[0]!.route).toContain(`/interactions/${INTERACTION}/`);
    expect(kit.interaction.client.rest.post.mock.invocationCallOrder[0]).toBeLessThan(
      kit.service.submit.mock.invocationCallOrder[0]!,
    );
    expect(kit.service.submit).toHaveBeenCalledTimes(1);
    const input = kit.service.submit.mock.calls[0]![0] as SubmitInput;
    expect(input).toMatchObject({
      jobId: `dc-${INTERACTION}`,
      settings: { prompt: 'a boat drifts', num_frames: 49, shift: 3 },
      images: { input_image: { url: IMAGE.url, allowedHosts: ['cdn.discordapp.com'] } },
      origin: { requester: { platform: 'discord', userId: USER, displayName: 'Alice', scopeId: GUILD } },
      reportTo: { platform: 'discord', guildId: GUILD, channelId: CHANNEL },
    });
    // No second message: the public reply is the job's status, queued first in its channel.
    expect(kit.interaction.channel.send).not.toHaveBeenCalled();
    expect(kit.statuses.get(`dc-${INTERACTION}`)).toEqual({
      channelId: CHANNEL,
      messageId: REPLY,
      postedAt: kit.interaction.createdTimestamp,
    });
    expect(kit.sink.update).toHaveBeenCalledTimes(1);
    const [jobId, channelId, update] = kit.sink.update.mock.calls[0]! as [
      string,
      string,
      { priority: string; payload: { embeds: { toJSON(): { description?: string; title?: string } }[] } },
    ];
    expect([jobId, channelId, update.priority]).toEqual([`dc-${INTERACTION}`, CHANNEL, 'first']);
    expect(JSON.stringify(update.payload)).toContain('a boat drifts');
    expect(JSON.stringify(update.payload)).toContain(String(STUB_SEED));
    expect(kit.interaction.deleteReply).not.toHaveBeenCalled();
    expect(kit.interaction.reply).not.toHaveBeenCalled();
  });

  it('answers with what to fix, privately and at once, and queues nothing, when a setting is wrong', async () => {
    const kit = invoke({ prompt: 'a boat drifts', advanced: 'num_frames=80' });
    await kit.run();
    expect(kit.service.submit).not.toHaveBeenCalled();
    expect(kit.interaction.deferReply).not.toHaveBeenCalled();
    const [reply] = kit.interaction.reply.mock.calls[0]! as [{ content: string; flags: number }];
    expect(reply.flags).toBe(MessageFlags.Ephemeral);
    expect(reply.content).toMatch(/^Please fix:\n• .*num_frames must be a number of the form 4n\+1/);
  });

  it('answers with the access refusal (checked before the ack, without I/O), in Discord words, privately, and queues nothing', async () => {
    const kit = invoke({ prompt: 'a boat drifts' });
    // The bot may not attach files here: the video could never be posted.
    (kit.interaction as { appPermissions: unknown }).appPermissions = new PermissionsBitField(
      BOT_PERMISSIONS.bitfield & ~PermissionFlagsBits.AttachFiles,
    );
    await kit.run();
    expect(kit.service.submit).not.toHaveBeenCalled();
    expect(kit.interaction.deferReply).not.toHaveBeenCalled();
    expect(publicDefers(kit.interaction)).toHaveLength(0);
    const [reply] = kit.interaction.reply.mock.calls[0]! as [{ content: string; flags: number }];
    expect(reply.flags).toBe(MessageFlags.Ephemeral);
    expect(reply.content).toContain('Attach Files');
  });

  it('withdraws the public reply and says why privately when the service refuses after the ack', async () => {
    const kit = invoke({ prompt: 'a boat drifts' });
    kit.service.submit.mockRejectedValueOnce(new UserFacingError('the image could not be downloaded'));
    await kit.run();
    expect(publicDefers(kit.interaction)).toHaveLength(1);
    expect(kit.interaction.deleteReply).toHaveBeenCalledTimes(1);
    const [followUp] = kit.interaction.followUp.mock.calls[0]! as [{ content: string; flags: number }];
    expect(followUp.flags).toBe(MessageFlags.Ephemeral);
    expect(followUp.content).toContain('could not be downloaded');
    expect(kit.sink.update).not.toHaveBeenCalled();
  });
});
