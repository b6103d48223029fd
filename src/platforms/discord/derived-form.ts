import {
  ActionRowBuilder,
  type ButtonInteraction,
  type ModalSubmitInteraction,
  TextInputBuilder,
  type TextInputStyle,
} from 'discord.js';
import { truncate } from '../../core/status-text.js';
import type { DiscordContext } from './context.js';
import { roleIdsOf } from './guards.js';
import { userOf } from './intake.js';
import { refusalText } from './refusals.js';
import { answerPrivately } from './replies.js';
import { rerunOrigin } from './rerun.js';

/**
 * What the forms made from a posted result (Remix, Extend) share: who clicked and where, a
 * pre-filled text field, and the checks before a form opens.
 */

type Clicked = ButtonInteraction | ModalSubmitInteraction;

export const clickedBy = (interaction: Clicked) => ({
  user: userOf(interaction),
  roleIds: roleIdsOf(interaction.member as never),
  channel: interaction.channel,
  appPermissions: interaction.appPermissions,
});

export const clickedIn = (interaction: Clicked) => ({
  guildId: interaction.guildId,
  channelId: interaction.channelId ?? '',
});

/** A form's text field, pre-filled (cut to fit) when there is a value; only the prompt is required. */
export function prefilledField(
  id: string,
  label: string,
  style: TextInputStyle,
  value: string | undefined,
  max: number,
) {
  const input = new TextInputBuilder()
    .setCustomId(id)
    .setLabel(label)
    .setStyle(style)
    .setRequired(id === 'prompt')
    .setMaxLength(max);
  if (value) input.setValue(truncate(value, max));
  return new ActionRowBuilder<TextInputBuilder>().addComponents(input);
}

/**
 * The stored job a form starts from, read with the clicker's refusal in one go; a refusal or an
 * expired job is answered privately here, and nothing is returned.
 */
export async function formParent(
  context: DiscordContext,
  interaction: ButtonInteraction,
  jobId: string,
  expired: string,
) {
  const origin = rerunOrigin(
    context,
    { parentJobId: jobId, ...clickedBy(interaction) },
    clickedIn(interaction),
  );
  const [record, refused] = await Promise.all([
    context.service.record(jobId),
    context.service.refusal(origin),
  ]);
  if (refused) {
    await answerPrivately(context, interaction, refusalText(refused));
    return undefined;
  }
  if (!record) await answerPrivately(context, interaction, expired);
  return record;
}
