import type { MessageContextMenuCommandInteraction, ModalSubmitInteraction } from 'discord.js';
import { Collection, MessageFlags } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { execute, submitModal } from '../../commands/animate-message.js';
import { CUSTOM_ID } from '../../src/platforms/discord/render.js';
import { fakeDiscordContext, interactionBase, publicDefers, USER } from '../support/discord-commands.js';

/** "Animate this image"'s `execute` and `submitModal` alone (the end-to-end runs: test/platforms/discord). */

const TARGET = '100000000000000005';
const IMAGE = {
  url: 'https://cdn.discordapp.com/attachments/1/2/cat.png',
  name: 'cat.png',
  size: 2048,
  contentType: 'image/png',
};
const PDF = {
  url: 'https://cdn.discordapp.com/attachments/1/3/notes.pdf',
  name: 'notes.pdf',
  size: 99,
  contentType: 'application/pdf',
};

function pick(attachments: (typeof IMAGE)[]) {
  const kit = fakeDiscordContext();
  const interaction = {
    ...interactionBase(),
    targetId: TARGET,
    targetMessage: { id: TARGET, attachments: new Collection(attachments.map((a, i) => [String(i), a])) },
  };
  const run = () => execute(interaction as unknown as MessageContextMenuCommandInteraction, kit.context);
  return { ...kit, interaction, run };
}

describe('"Animate this image" (the command file)', () => {
  it("answers with the modal for the message's image, and keeps the image for the submit", async () => {
    const kit = pick([PDF, IMAGE]);
    await kit.run();
    expect(kit.interaction.showModal).toHaveBeenCalledTimes(1);
    const modal = (
      kit.interaction.showModal.mock.calls[0]![0] as { toJSON(): Record<string, unknown> }
    ).toJSON();
    expect(modal).toMatchObject({ custom_id: CUSTOM_ID.animateModal(TARGET), title: 'Animate this image' });
    expect(kit.interaction.reply).not.toHaveBeenCalled();
    expect(await kit.messages.picked(TARGET, USER)).toEqual(IMAGE);
  });

  it('says privately that the message has no image, and shows no modal', async () => {
    const kit = pick([PDF]);
    await kit.run();
    expect(kit.interaction.showModal).not.toHaveBeenCalled();
    expect(kit.interaction.reply).toHaveBeenCalledWith({
      content: 'That message has no image attached. Pick a message with a PNG, JPEG or WebP image.',
      flags: MessageFlags.Ephemeral,
      allowedMentions: { parse: [] },
    });
  });

  it('asks to pick again when the image was lost before the modal came back, and queues nothing', async () => {
    const kit = fakeDiscordContext();
    const interaction = {
      ...interactionBase(),
      customId: CUSTOM_ID.animateModal(TARGET),
      fields: { getTextInputValue: (name: string) => (name === 'prompt' ? 'a boat drifts' : '') },
    };
    await submitModal(interaction as unknown as ModalSubmitInteraction, kit.context);
    // Acknowledged publicly (it would have become the status), then withdrawn and told privately.
    expect(publicDefers(interaction)).toHaveLength(1);
    expect(interaction.deleteReply).toHaveBeenCalledTimes(1);
    expect(interaction.followUp).toHaveBeenCalledWith({
      content: 'That took too long and I lost the image; pick "Animate this image" again.',
      flags: MessageFlags.Ephemeral,
      allowedMentions: { parse: [] },
    });
    expect(kit.service.submit).not.toHaveBeenCalled();
    expect(kit.sink.update).not.toHaveBeenCalled();
  });
});
