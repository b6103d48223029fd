import {
  ApplicationIntegrationType,
  type ChatInputCommandInteraction,
  InteractionContextType,
  SlashCommandBuilder,
} from 'discord.js';
import {
  answerInPrivate,
  cancelButtons,
  linksOf,
  privatePayload,
  requesterOf,
  DISCORD_COMMAND_WORDS as words,
} from '../src/platforms/discord/command-views.js';
import type { DiscordContext } from '../src/platforms/discord/context.js';
import { helpText, historyText, jobsText, quotaText } from '../src/platforms/shared/member-texts.js';

/** `/kinema jobs|quota|help|history`: what a member may see of their own, always privately. */
export const definition = new SlashCommandBuilder()
  .setName('kinema')
  .setDescription('Your Kinema videos: jobs, quota, history, and help')
  .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addSubcommand((sub) =>
    sub.setName('jobs').setDescription('Your waiting, rendering and recent videos, with Cancel buttons'),
  )
  .addSubcommand((sub) =>
    sub.setName('quota').setDescription('How many videos you have left and when one frees up'),
  )
  .addSubcommand((sub) =>
    sub.setName('help').setDescription('Every /animate setting with its range and default'),
  )
  .addSubcommand((sub) =>
    sub.setName('history').setDescription('Your last 20 videos: prompt, seed, model, length, date, link'),
  )
  .toJSON();

const HELP_INTRO = [
  '**Kinema turns an image and a prompt into a short video.**',
  '• `/animate image:<file> prompt:<text>` with the options below; anything else goes in `advanced` as `key=value`, e.g. `shift=3 tea_cache=0`.',
  '• Right-click a message with an image → Apps → *Animate this image*.',
  '• On a result: 🎲 *Rerun (new seed)*, or react 🎲. Cancel a video with its button or ❌.',
];

export async function execute(
  interaction: ChatInputCommandInteraction,
  context: DiscordContext,
): Promise<void> {
  const { members } = context.service;
  const requester = requesterOf(interaction);
  switch (interaction.options.getSubcommand()) {
    case 'jobs':
      return answerInPrivate(context, interaction, async () => {
        const jobs = await members.jobsOf(requester);
        const inFlight = [...jobs.rendering, ...jobs.waiting];
        const links = await linksOf(context, [...inFlight, ...jobs.recent]);
        return privatePayload(jobsText(jobs, links, words), cancelButtons(inFlight));
      });
    case 'quota':
      return answerInPrivate(context, interaction, async () =>
        quotaText(await members.quotaOf(requester), words),
      );
    case 'history':
      return answerInPrivate(context, interaction, async () => {
        const videos = await members.historyOf(requester);
        return historyText(videos, await linksOf(context, videos), words);
      });
    default:
      return answerInPrivate(context, interaction, async () => helpText(words, HELP_INTRO));
  }
}
