import { type ChatInputCommandInteraction, MessageFlags } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { execute } from '../../commands/animate.js';
import type { SubmitInput } from '../../src/service/generation-service.js';
import {
  CHANNEL,
  fakeDiscordContext,
  GUILD,
  INTERACTION,
  interactionBase,
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
  it('defers privately first, submits what was asked, posts the status, and answers with where it is', async () => {
    const kit = invoke({ prompt: 'a boat drifts', num_frames: 49, advanced: 'shift=3' });
    await kit.run();
    expect(kit.interaction.deferReply).toHaveBeenCalledWith({ flags: MessageFlags.Ephemeral });
    expect(kit.interaction.deferReply.mock.invocationCallOrder[0]).toBeLessThan(
      kit.service.refusal.mock.invocationCallOrder[0]!,
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
    expect(kit.interaction.channel.send).toHaveBeenCalledTimes(1);
    expect(kit.interaction.editReply).toHaveBeenCalledWith({
      content: `Queued (#1): https://discord.com/channels/${GUILD}/${CHANNEL}/100000000000000009 · seed ${STUB_SEED}`,
      allowedMentions: { parse: [] },
    });
  });

  it('answers with what to fix, and queues nothing, when a setting is wrong', async () => {
    const kit = invoke({ prompt: 'a boat drifts', advanced: 'num_frames=80' });
    await kit.run();
    expect(kit.service.submit).not.toHaveBeenCalled();
    const [reply] = kit.interaction.editReply.mock.calls[0]! as [{ content: string }];
    expect(reply.content).toMatch(/^Please fix:\n• .*num_frames must be a number of the form 4n\+1/);
  });

  it("answers with the service's refusal, in Discord words, and queues nothing", async () => {
    const kit = invoke({ prompt: 'a boat drifts' });
    kit.service.refusal.mockResolvedValueOnce({ reason: 'bot-cannot-post', missing: ['Attach Files'] });
    await kit.run();
    expect(kit.service.submit).not.toHaveBeenCalled();
    const [reply] = kit.interaction.editReply.mock.calls[0]! as [{ content: string }];
    expect(reply.content).toContain('Attach Files');
  });
});
