import {
  ActionRowBuilder,
  ApplicationCommandType,
  ApplicationIntegrationType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  type MessageContextMenuCommandInteraction,
  MessageFlags,
  ModalBuilder,
  type ModalSubmitInteraction,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { fieldInfo } from '../src/core/request.js';
import { botUploadLimit, type DiscordContext } from '../src/platforms/discord/context.js';
import { animate, userOf } from '../src/platforms/discord/intake.js';
import { CUSTOM_ID } from '../src/platforms/discord/render.js';

/** Right-click a message with an image → Apps → "Animate this image": asks for a prompt in a modal. */
export const definition = new ContextMenuCommandBuilder()
  .setName('Animate this image')
  .setType(ApplicationCommandType.Message)
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .toJSON();

export const modalPrefix = 'kinema:animate-message:';

const IMAGE_TYPES = /^image\/(png|jpeg|webp|gif|avif)/;

export async function execute(
  interaction: MessageContextMenuCommandInteraction,
  context: DiscordContext,
): Promise<void> {
  const image = interaction.targetMessage.attachments.find((attachment) =>
    IMAGE_TYPES.test(attachment.contentType ?? ''),
  );
  if (!image) {
    await interaction.reply({
      content: 'That message has no image attached. Pick a message with a PNG, JPEG or WebP image.',
      flags: MessageFlags.Ephemeral,
    });
    return;
  }
  // The modal is the acknowledgement: it must be the first answer, with no I/O before it.
  const prompt = fieldInfo('prompt');
  const modal = new ModalBuilder()
    .setCustomId(CUSTOM_ID.animateModal(interaction.targetId))
    .setTitle('Animate this image')
    .addComponents(
      new ActionRowBuilder<TextInputBuilder>().addComponents(
        new TextInputBuilder()
          .setCustomId('prompt')
          .setLabel('What should happen?')
          .setStyle(TextInputStyle.Paragraph)
          .setMaxLength(prompt.maxLength ?? 1500)
          .setRequired(true),
      ),
      new ActionRowBuilder<TextInputBuilder>().addComponents(
        new TextInputBuilder()
          .setCustomId('advanced')
          // Discord allows 45 characters in a label.
          .setLabel('More settings, e.g. num_frames=49 seed=7')
          .setPlaceholder('key=value pairs; see /animate advanced')
          .setStyle(TextInputStyle.Short)
          .setRequired(false)
          .setMaxLength(1000),
      ),
    );
  await interaction.showModal(modal);
  await context.messages.setPicked(interaction.targetId, interaction.user.id, {
    url: image.url,
    name: image.name,
    size: image.size,
    contentType: image.contentType,
  });
}

export async function submitModal(
  interaction: ModalSubmitInteraction,
  context: DiscordContext,
): Promise<void> {
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const messageId = interaction.customId.slice(modalPrefix.length);
  const channel =
    interaction.channel ??
    (await interaction.client.channels.fetch(interaction.channelId ?? '').catch(() => null));
  const attachment = await context.messages.picked(messageId, interaction.user.id);
  if (!channel?.isSendable() || !attachment) {
    await interaction.editReply('That took too long and I lost the image; pick "Animate this image" again.');
    return;
  }
  const member = interaction.member;
  const answer = await animate(context, {
    jobId: `dc-${interaction.id}`,
    options: { prompt: interaction.fields.getTextInputValue('prompt') },
    advanced: interaction.fields.getTextInputValue('advanced'),
    image: attachment,
    user: userOf(interaction),
    member,
    guildId: interaction.guildId,
    channel,
    appPermissions: interaction.appPermissions,
    uploadLimit: botUploadLimit(interaction),
  });
  await interaction.editReply({ content: answer.text, allowedMentions: { parse: [] } });
}
