import {
  type ApplicationCommandOptionBase,
  ApplicationIntegrationType,
  type ChatInputCommandInteraction,
  InteractionContextType,
  SlashCommandBuilder,
} from 'discord.js';
import { FIELD_INFO, type FieldInfo } from '../src/core/request.js';
import type { DiscordContext } from '../src/platforms/discord/context.js';
import { animate, checkAnimate, replyPlace, userOf } from '../src/platforms/discord/intake.js';
import { answerPrivately, deferPublicly, withdrawPublicReply } from '../src/platforms/discord/replies.js';

/** Discord option descriptions are at most 100 characters. */
const describe = (field: FieldInfo) =>
  `${field.description}${field.defaultValue !== null && field.defaultValue !== '' ? ` (default ${field.defaultValue})` : ''}`.slice(
    0,
    100,
  );

function addField(builder: SlashCommandBuilder, field: FieldInfo, required: boolean) {
  const setup = <T extends ApplicationCommandOptionBase>(option: T) =>
    option.setName(field.name).setDescription(describe(field)).setRequired(required);
  switch (field.kind) {
    case 'integer':
      builder.addIntegerOption((option) => setup(option).setMinValue(field.min!).setMaxValue(field.max!));
      break;
    case 'number':
      builder.addNumberOption((option) => setup(option).setMinValue(field.min!).setMaxValue(field.max!));
      break;
    case 'boolean':
      builder.addBooleanOption((option) => setup(option));
      break;
    case 'choice':
      builder.addStringOption((option) =>
        setup(option).addChoices(
          ...(field.choices ?? []).map((choice) => ({
            name: String(choice) || 'off',
            value: String(choice),
          })),
        ),
      );
      break;
    default:
      builder.addStringOption((option) => setup(option).setMaxLength(field.maxLength ?? 2000));
  }
}

/** Built from the request schema: the common fields as options, every other field through `advanced`. */
function buildDefinition() {
  const builder = new SlashCommandBuilder()
    .setName('animate')
    .setDescription('Turn an image and a prompt into a short video')
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall);
  builder.addAttachmentOption((option) =>
    option
      .setName('image')
      .setDescription('The still image to animate (PNG, JPEG or WebP)')
      .setRequired(true),
  );
  const common = FIELD_INFO.filter((field) => field.common);
  addField(builder, common.find((field) => field.name === 'prompt')!, true);
  builder.addAttachmentOption((option) =>
    option.setName('end_frame').setDescription('Optional last frame the video should end on'),
  );
  for (const field of common) if (field.name !== 'prompt') addField(builder, field, false);
  const others = FIELD_INFO.filter((field) => !field.common)
    .map((field) => field.name)
    .join(' ');
  builder.addStringOption((option) =>
    option
      .setName('advanced')
      .setDescription('More settings as key=value, e.g. shift=3 tea_cache=0 (every setting: /kinema help)')
      .setMaxLength(1000),
  );
  return { json: builder.toJSON(), advancedFields: others };
}

const built = buildDefinition();
export const definition = built.json;

const OPTION_NAMES = definition.options?.map((option) => option.name) ?? [];

/**
 * Checks what needs no I/O and answers bad input privately at once; otherwise acknowledges
 * publicly (the reply becomes the job's status message) and, once the burst's other commands are
 * acknowledged too, lets the service do the rest.
 */
export async function execute(
  interaction: ChatInputCommandInteraction,
  context: DiscordContext,
): Promise<void> {
  const options: Record<string, unknown> = {};
  for (const name of OPTION_NAMES) {
    if (name === 'image' || name === 'end_frame' || name === 'advanced') continue;
    const option = interaction.options.get(name);
    if (option) options[name] = option.value;
  }
  const user = userOf(interaction);
  const checked = checkAnimate(context, {
    options,
    advanced: interaction.options.getString('advanced'),
    image: interaction.options.getAttachment('image'),
    endImage: interaction.options.getAttachment('end_frame'),
    user,
    member: interaction.member,
    guildId: interaction.guildId,
    channelId: interaction.channelId,
    channel: interaction.channel,
    appPermissions: interaction.appPermissions,
  });
  if (!checked.ok) {
    await answerPrivately(context, interaction, checked.text);
    return;
  }
  const messageId = await deferPublicly(context, interaction);
  await context.acks.settled();
  const answer = await animate(
    context,
    checked.request,
    replyPlace(interaction, messageId, user.displayName),
  );
  if (!answer.ok || answer.duplicate) await withdrawPublicReply(context, interaction, answer.text);
}
