import { type ButtonInteraction, type ModalSubmitInteraction, PermissionFlagsBits } from 'discord.js';
import { accessRefusal } from '../../service/checks.js';
import type { DiscordContext } from './context.js';
import { openExtend, submitExtend } from './extend.js';
import { roleIdsOf } from './guards.js';
import { replyPlace, userOf } from './intake.js';
import { refusalText } from './refusals.js';
import { openRemix, showDetails, submitRemix } from './remix.js';
import { CUSTOM_ID } from './render.js';
import {
  answerPrivately,
  deferPrivately,
  deferPublicly,
  editPrivateReply,
  withdrawPublicReply,
} from './replies.js';
import { cancel, rerun, rerunOrigin } from './rerun.js';

/** Result buttons besides Rerun and Cancel, by the action in their custom id. */
const RESULT_ACTIONS: Record<
  string,
  (context: DiscordContext, i: ButtonInteraction, jobId: string) => Promise<unknown>
> = {
  remix: openRemix,
  extend: openExtend,
  details: showDetails,
};

/** Forms opened by a button, by the action in their custom id; false when it is not one of them. */
export async function handleModal(context: DiscordContext, interaction: ModalSubmitInteraction) {
  if (interaction.customId.startsWith('kinema:extend-modal:')) {
    await submitExtend(context, interaction);
    return true;
  }
  if (!interaction.customId.startsWith('kinema:remix-modal:')) return false;
  await submitRemix(context, interaction);
  return true;
}

/**
 * Buttons route by the action in their custom id; the job id in it is all the state they need.
 * A click is acknowledged before any slow work: Cancel privately, Rerun publicly (its reply becomes
 * the new job's status message, like /animate's).
 */
export async function handleButton(
  context: DiscordContext,
  interaction: ButtonInteraction,
): Promise<boolean> {
  const parsed = CUSTOM_ID.parse(interaction.customId);
  const action = parsed ? RESULT_ACTIONS[parsed.action] : undefined;
  if (parsed && action) {
    await action(context, interaction, parsed.target);
    return true;
  }
  if (!parsed || (parsed.action !== 'cancel' && parsed.action !== 'rerun')) return false;
  const user = userOf(interaction);
  if (parsed.action === 'cancel') {
    await deferPrivately(context, interaction);
    await context.acks.settled();
    const canModerate = Boolean(interaction.memberPermissions?.has(PermissionFlagsBits.ManageMessages));
    const answer = await cancel(context, { jobId: parsed.target, user, canModerate });
    await editPrivateReply(context, interaction, answer.text);
    return true;
  }
  const input = {
    parentJobId: parsed.target,
    user,
    roleIds: roleIdsOf(interaction.member as never),
    channel: interaction.channel,
    appPermissions: interaction.appPermissions,
  };
  const where = { guildId: interaction.guildId, channelId: interaction.channelId };
  // The config's allowlists only (no I/O before the ack); the service checks the rest after it.
  const origin = rerunOrigin(context, input, where);
  const refused = accessRefusal(origin.access, origin.place);
  if (refused) {
    await answerPrivately(context, interaction, refusalText(refused));
    return true;
  }
  const messageId = await deferPublicly(context, interaction);
  await context.acks.settled();
  const answer = await rerun(context, input, replyPlace(interaction, messageId, user.displayName));
  if (!answer.ok || answer.duplicate) await withdrawPublicReply(context, interaction, answer.text);
  return true;
}
