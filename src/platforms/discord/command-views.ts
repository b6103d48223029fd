import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  type ChatInputCommandInteraction,
  escapeMarkdown,
  type InteractionEditReplyOptions,
  type MessageActionRowComponentBuilder,
  PermissionFlagsBits,
} from 'discord.js';
import type { JobPlace, Requester } from '../../core/job.js';
import { truncate } from '../../core/status-text.js';
import type { AdminActor } from '../../service/admin-desk.js';
import type { JobView } from '../../service/job-views.js';
import type { CommandWords } from '../shared/command-words.js';
import type { JobLinks } from '../shared/member-texts.js';
import type { DiscordContext } from './context.js';
import { userOf } from './intake.js';
import { explain } from './refusals.js';
import { CUSTOM_ID, messageLink } from './render.js';
import { deferPrivately, editPrivateReply } from './replies.js';

/** What `/kinema` and `/kinema-admin` need on Discord: their words, who asks, links, the private answer. */

const CONTENT_MAX = 2000;

export const DISCORD_COMMAND_WORDS: CommandWords = {
  bold: (text) => `**${text}**`,
  link: (text, url) => `[${text}](${url})`,
  time: (unix) => `<t:${unix}:R>`,
  date: (unix) => `<t:${unix}:f>`,
  escape: (text) => escapeMarkdown(text),
  place: (place) => (place.isDirectMessage ? 'in DMs' : `in <#${place.channelId}>`),
  server: 'server',
  member: '/kinema',
  admin: '/kinema-admin',
  // A longer answer goes in an embed's description (4096).
  max: 4000,
};

/** The person asking, as the service's member views key them (their jobs on every server). */
export function requesterOf(interaction: ChatInputCommandInteraction): Requester {
  const user = userOf(interaction);
  return {
    platform: 'discord',
    userId: user.id,
    displayName: user.displayName,
    scopeId: interaction.guildId ?? 'dm',
  };
}

/** An admin: Manage Server in this server, checked here at run time whatever the registration says. */
export function actorOf(interaction: ChatInputCommandInteraction): AdminActor {
  const user = userOf(interaction);
  return {
    platform: 'discord',
    userId: user.id,
    displayName: user.displayName,
    serverId: interaction.guildId ?? 'dm',
    serverAdmin: Boolean(
      interaction.guildId && interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild),
    ),
  };
}

/** The link to a job's result message, else its status message, when the bot still knows them. */
async function linkOf(context: DiscordContext, jobId: string, place?: JobPlace): Promise<string | undefined> {
  const guildId = place && !place.isDirectMessage ? place.serverId : undefined;
  const delivered = await context.messages.delivered(jobId);
  if (delivered && place?.channelId) return messageLink(guildId, place.channelId, delivered);
  const status = await context.messages.status(jobId);
  if (!status || status.gone) return undefined;
  return messageLink(guildId, status.channelId, status.messageId);
}

export async function linksOf(
  context: DiscordContext,
  jobs: readonly { jobId: string; place?: JobPlace }[],
): Promise<JobLinks> {
  const links = await Promise.all(
    jobs.map(async (job) => [job.jobId, await linkOf(context, job.jobId, job.place)] as const),
  );
  return new Map(links.filter((entry): entry is readonly [string, string] => entry[1] !== undefined));
}

/** One Cancel button per job in flight (at most 25, five rows of five). */
export function cancelButtons(jobs: readonly JobView[]) {
  const rows: ActionRowBuilder<MessageActionRowComponentBuilder>[] = [];
  jobs.slice(0, 25).forEach((job, index) => {
    if (index % 5 === 0) rows.push(new ActionRowBuilder<MessageActionRowComponentBuilder>());
    rows.at(-1)!.addComponents(
      new ButtonBuilder()
        .setCustomId(CUSTOM_ID.cancel(job.jobId))
        .setLabel(truncate(`Cancel “${job.prompt}”`, 40))
        .setStyle(ButtonStyle.Danger),
    );
  });
  return rows;
}

/** A text as a message: plain when it fits Discord's 2000 characters, else in an embed. */
export function privatePayload(
  text: string,
  components: ActionRowBuilder<MessageActionRowComponentBuilder>[] = [],
) {
  const body =
    text.length <= CONTENT_MAX
      ? { content: text, embeds: [] }
      : { content: '', embeds: [{ description: text }] };
  return { ...body, components } satisfies InteractionEditReplyOptions;
}

/**
 * Answers a command privately: acknowledged at once (ephemeral), the answer built after the burst's
 * other acks, and any refusal or error worded by the one refusal renderer.
 */
export async function answerInPrivate(
  context: DiscordContext,
  interaction: ChatInputCommandInteraction,
  build: () => Promise<string | InteractionEditReplyOptions>,
): Promise<void> {
  await deferPrivately(context, interaction);
  await context.acks.settled();
  let answer: string | InteractionEditReplyOptions;
  try {
    answer = await build();
  } catch (error) {
    answer = explain(context, error);
  }
  await editPrivateReply(context, interaction, typeof answer === 'string' ? privatePayload(answer) : answer);
}
