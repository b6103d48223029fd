import {
  ActionRowBuilder,
  ApplicationCommandType,
  ApplicationIntegrationType,
  ContextMenuCommandBuilder,
  InteractionContextType,
  type MessageContextMenuCommandInteraction,
  ModalBuilder,
  type ModalSubmitInteraction,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { fieldInfo } from '../src/core/request.js';
import type { DiscordContext } from '../src/platforms/discord/context.js';
import { animate, checkAnimate, replyPlace, userOf } from '../src/platforms/discord/intake.js';
import { CUSTOM_ID } from '../src/platforms/discord/render.js';
import { answerPrivately, deferPublicly, withdrawPublicReply } from '../src/platforms/discord/replies.js';

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
    await answerPrivately(
      context,
      interaction,
      'That message has no image attached. Pick a message with a PNG, JPEG or WebP image.',
    );
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
          .setPlaceholder('key=value pairs, e.g. shift=3; every setting: /kinema help')
          .setStyle(TextInputStyle.Short)
          .setRequired(false)
          .setMaxLength(1000),
      ),
    );
  await context.acks.ack(() => interaction.showModal(modal));
  await context.messages.setPicked(interaction.targetId, interaction.user.id, {
    url: image.url,
    name: image.name,
    size: image.size,
    contentType: image.contentType,
  });
}

/**
 * The prompt came back: checked without I/O (settings, access) and answered privately when wrong;
 * otherwise acknowledged publicly like /animate, and the picked image is read back after that.
 */
export async function submitModal(
  interaction: ModalSubmitInteraction,
  context: DiscordContext,
): Promise<void> {
  const user = userOf(interaction);
  const input = {
    options: { prompt: interaction.fields.getTextInputValue('prompt') },
    advanced: interaction.fields.getTextInputValue('advanced'),
    user,
    member: interaction.member,
    guildId: interaction.guildId,
    channelId: interaction.channelId ?? '',
    channel: interaction.channel,
    appPermissions: interaction.appPermissions,
  };
  // The image is only known after a Redis read; a stand-in passes the checks that need none.
  const precheck = checkAnimate(context, { ...input, image: PENDING_IMAGE });
  if (!precheck.ok) {
    await answerPrivately(context, interaction, precheck.text);
    return;
  }
  const messageId = await deferPublicly(context, interaction);
  await context.acks.settled();
  const attachment = await context.messages.picked(
    interaction.customId.slice(modalPrefix.length),
    interaction.user.id,
  );
  const checked = attachment
    ? checkAnimate(context, { ...input, image: attachment })
    : {
        ok: false as const,
        text: 'That took too long and I lost the image; pick "Animate this image" again.',
      };
  const answer = checked.ok
    ? await animate(context, checked.request, replyPlace(interaction, messageId, user.displayName))
    : checked;
  if (!answer.ok || answer.duplicate) await withdrawPublicReply(context, interaction, answer.text);
}

const PENDING_IMAGE = { url: '', name: 'image', size: 0, contentType: null };
