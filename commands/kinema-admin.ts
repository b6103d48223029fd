import {
  ApplicationIntegrationType,
  type ChatInputCommandInteraction,
  InteractionContextType,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type SlashCommandStringOption,
} from 'discord.js';
import {
  actorOf,
  answerInPrivate,
  DISCORD_COMMAND_WORDS as words,
} from '../src/platforms/discord/command-views.js';
import type { DiscordContext } from '../src/platforms/discord/context.js';
import {
  auditText,
  cancelText,
  pauseText,
  queueText,
  resumedText,
  setText,
  settingsText,
} from '../src/platforms/shared/admin-texts.js';
import { SERVER_SETTING_NAMES } from '../src/service/server-settings.js';

/**
 * `/kinema-admin pause|resume|queue|cancel|config|audit`, for people with Manage Server. Discord
 * hides it from everyone else by default, but a server can change who sees it, so every
 * subcommand checks again at run time (the service refuses anyone who is not an admin or owner).
 */
const scope = (sub: 'pause' | 'resume') => (option: SlashCommandStringOption) =>
  option
    .setName('scope')
    .setDescription(`What to ${sub}: this server (default), or the whole bot (the bot's owners only)`)
    .addChoices({ name: 'this server', value: 'server' }, { name: 'the whole bot', value: 'bot' });

export const definition = new SlashCommandBuilder()
  .setName('kinema-admin')
  .setDescription('Run Kinema for this server: pause, queue, cancel, settings, audit')
  .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
  .setContexts(InteractionContextType.Guild)
  .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
  .addSubcommand((sub) =>
    sub
      .setName('pause')
      .setDescription('New requests are refused and nothing new starts; running videos finish')
      .addStringOption(scope('pause')),
  )
  .addSubcommand((sub) =>
    sub
      .setName('resume')
      .setDescription('Take requests again; held videos go back in line')
      .addStringOption(scope('resume')),
  )
  .addSubcommand((sub) =>
    sub.setName('queue').setDescription('Everything waiting and rendering for this server, in order'),
  )
  .addSubcommand((sub) =>
    sub
      .setName('cancel')
      .setDescription("Cancel any of this server's videos")
      .addStringOption((option) =>
        option
          .setName('job')
          .setDescription('The job id, or a link to its status or result message')
          .setRequired(true)
          .setMaxLength(200),
      ),
  )
  .addSubcommand((sub) =>
    sub
      .setName('config')
      .setDescription("Show this server's settings, or set or reset one (from the next video on)")
      .addStringOption((option) =>
        option
          .setName('setting')
          .setDescription('The setting to set or reset (leave out to show them all)')
          .addChoices(...SERVER_SETTING_NAMES.map((name) => ({ name, value: name }))),
      )
      .addStringOption((option) =>
        option
          .setName('value')
          .setDescription('The new value, e.g. 5, true, or a comma-separated list')
          .setMaxLength(1000),
      )
      .addBooleanOption((option) =>
        option.setName('reset').setDescription("Back to the bot's default for this setting"),
      ),
  )
  .addSubcommand((sub) =>
    sub
      .setName('audit')
      .setDescription('Recent audit records of this server: who, what, verdicts, outcome, cost')
      .addIntegerOption((option) =>
        option.setName('limit').setDescription('How many (default 10)').setMinValue(1).setMaxValue(25),
      )
      .addBooleanOption((option) =>
        option.setName('everywhere').setDescription("Every server's records (the bot's owners only)"),
      ),
  )
  .toJSON();

/** A job id, or the job of a linked (or bare) message id. */
async function jobOf(context: DiscordContext, given: string): Promise<string> {
  const link = /channels\/(?:\d+|@me)\/\d+\/(\d+)/.exec(given);
  const messageId = link?.[1] ?? (/^\d{17,20}$/.test(given) ? given : undefined);
  if (!messageId) return given;
  return (await context.messages.jobOfMessage(messageId)) ?? given;
}

export async function execute(
  interaction: ChatInputCommandInteraction,
  context: DiscordContext,
): Promise<void> {
  const { admin } = context.service;
  const actor = actorOf(interaction);
  const { options } = interaction;
  const whole = options.getString('scope') === 'bot';
  await answerInPrivate(context, interaction, async () => {
    switch (options.getSubcommand()) {
      case 'pause':
        return pauseText(await (whole ? admin.pauseBot(actor) : admin.pauseServer(actor)), words);
      case 'resume':
        return resumedText(await (whole ? admin.resumeBot(actor) : admin.resumeServer(actor)), words);
      case 'queue':
        return queueText(await admin.serverQueue(actor), words);
      case 'cancel': {
        const given = options.getString('job', true).trim();
        return cancelText(await admin.cancel(await jobOf(context, given), actor));
      }
      case 'config': {
        const name = options.getString('setting');
        const value = options.getString('value');
        if (name && options.getBoolean('reset')) {
          return setText(name, await admin.resetSetting(actor, name), true);
        }
        if (name && value !== null) return setText(name, await admin.setSetting(actor, name, value), false);
        return settingsText(await admin.settings(actor), words);
      }
      default: {
        const limit = options.getInteger('limit') ?? 10;
        const everywhere = options.getBoolean('everywhere') ?? false;
        return auditText(await admin.audit(actor, { limit, everywhere }), words);
      }
    }
  });
}
