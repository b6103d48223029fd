import { type ButtonInteraction, MessageFlags, PermissionFlagsBits } from 'discord.js';
import { botUploadLimit, type DiscordContext } from './context.js';
import { roleIdsOf } from './guards.js';
import { userOf } from './intake.js';
import { CUSTOM_ID } from './render.js';
import { cancel, rerun } from './rerun.js';

/** Buttons route by the action in their custom id; the job id in it is all the state they need. */
export async function handleButton(
  context: DiscordContext,
  interaction: ButtonInteraction,
): Promise<boolean> {
  const parsed = CUSTOM_ID.parse(interaction.customId);
  if (!parsed || (parsed.action !== 'cancel' && parsed.action !== 'rerun')) return false;
  // Acknowledge first: nothing slow before Discord's 3 s deadline.
  await interaction.deferReply({ flags: MessageFlags.Ephemeral });
  const user = userOf(interaction);
  if (parsed.action === 'cancel') {
    const canModerate = Boolean(interaction.memberPermissions?.has(PermissionFlagsBits.ManageMessages));
    const answer = await cancel(context, { jobId: parsed.target, user, canModerate });
    await interaction.editReply(answer.text);
    return true;
  }
  const channel = interaction.channel;
  if (!channel?.isSendable()) {
    await interaction.editReply("I can't post in this channel.");
    return true;
  }
  const answer = await rerun(context, {
    parentJobId: parsed.target,
    jobId: `dc-${interaction.id}`,
    user,
    guildId: interaction.guildId,
    channel,
    uploadLimit: botUploadLimit(interaction),
    roleIds: roleIdsOf(interaction.member as never),
    appPermissions: interaction.appPermissions,
  });
  await interaction.editReply(answer.text);
  return true;
}
