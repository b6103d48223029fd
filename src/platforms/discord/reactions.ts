import {
  type MessageReaction,
  type PartialMessageReaction,
  type PartialUser,
  PermissionFlagsBits,
  type SendableChannels,
  type User,
} from 'discord.js';
import { type DiscordContext, guildUploadLimit } from './context.js';
import { roleIdsOf } from './guards.js';
import { cancel, rerun } from './rerun.js';

export const RERUN_EMOJI = new Set(['🎲', '🔁']);
export const CANCEL_EMOJI = new Set(['❌']);

/**
 * 🎲/🔁 on a result reruns it with a new seed; ❌ on a status or result cancels. Reactions have no
 * ephemeral reply, so problems are told in a short-lived message.
 */
export async function handleReaction(
  context: DiscordContext,
  partialReaction: MessageReaction | PartialMessageReaction,
  partialUser: User | PartialUser,
): Promise<void> {
  if (partialUser.bot) return;
  const emoji = partialReaction.emoji.name ?? '';
  if (!RERUN_EMOJI.has(emoji) && !CANCEL_EMOJI.has(emoji)) return;
  const jobId = await context.messages.jobOfMessage(partialReaction.message.id);
  if (!jobId) return;
  const reaction = partialReaction.partial ? await partialReaction.fetch() : partialReaction;
  const user = partialUser.partial ? await partialUser.fetch() : partialUser;
  const message = reaction.message.partial ? await reaction.message.fetch() : reaction.message;
  const channel = message.channel;
  if (!channel.isSendable()) return;
  const guild = message.guild;
  const member = guild ? await guild.members.fetch(user.id).catch(() => null) : null;
  const displayName = member?.displayName ?? user.displayName;

  let answer: { ok: boolean; text?: string };
  if (CANCEL_EMOJI.has(emoji)) {
    const canModerate = Boolean(
      member &&
        channel.isTextBased() &&
        'permissionsFor' in channel &&
        channel.permissionsFor(member)?.has(PermissionFlagsBits.ManageMessages),
    );
    answer = await cancel(context, { jobId, user: { id: user.id, displayName }, canModerate });
  } else {
    answer = await rerun(
      context,
      {
        parentJobId: jobId,
        wholeGroup: true,
        user: { id: user.id, displayName },
        roleIds: roleIdsOf(member),
        channel,
        appPermissions: guild?.members.me
          ? channel.isDMBased()
            ? null
            : channel.permissionsFor(guild.members.me)
          : null,
      },
      {
        jobId: `dc-r${message.id}-${user.id}-${Date.now().toString(36)}`,
        guildId: guild?.id ?? null,
        channelId: channel.id,
        uploadLimit: guildUploadLimit(guild?.premiumTier),
        requesterName: displayName,
        home: { kind: 'post', channel },
      },
    );
  }
  // Let the user react again later; needs Manage Messages, so it may quietly not happen.
  await reaction.users.remove(user.id).catch(() => undefined);
  // A double reaction's rerun is the same job: nothing to say about it.
  const text = !answer.ok || CANCEL_EMOJI.has(emoji) ? answer.text : undefined;
  if (text) await shortNotice(context, channel, user.id, text);
}

/** Reactions have no private reply: a mention that deletes itself (a delete is not counted). */
async function shortNotice(context: DiscordContext, channel: SendableChannels, userId: string, text: string) {
  const notice = await context.sender
    .send({
      channelId: channel.id,
      priority: 'urgent',
      run: async (): Promise<{ delete(): Promise<unknown> }> =>
        channel.send({ content: `<@${userId}> ${text}`, allowedMentions: { users: [userId] } }),
    })
    .catch(() => undefined);
  if (notice?.sent) setTimeout(() => void notice.value.delete().catch(() => undefined), 15_000).unref();
}
