import {
  type InteractionEditReplyOptions,
  InteractionResponseType,
  MessageFlags,
  type RESTPostAPIInteractionCallbackWithResponseResult,
  type RepliableInteraction,
  Routes,
} from 'discord.js';
import type { DiscordContext } from './context.js';

/**
 * How an interaction is answered (issue 10 items 2 and 3). Acknowledgements go through the ack
 * gate, before any command's slower work; everything that shows text in the channel counts against
 * its budget and goes through the sender. A job's status is the interaction's own public reply;
 * whatever only the person should read is ephemeral.
 */

const quiet = { allowedMentions: { parse: [] } };

const channelOf = (interaction: RepliableInteraction) => interaction.channelId ?? 'unknown';

/**
 * Acknowledges publicly; the reply becomes the job's status message. Returns its message id.
 *
 * The defer is sent as discord.js's `deferReply({ withResponse: true })` sends it, and the
 * interaction marked deferred as that does, but the message id is read from the raw answer: under a
 * burst, building and caching a discord.js Message for every empty "thinking" reply is CPU that
 * the next commands' acks wait behind.
 */
export async function deferPublicly(
  context: DiscordContext,
  interaction: RepliableInteraction,
): Promise<string> {
  context.sender.remember(interaction);
  const answer = (await context.acks.ack(() =>
    interaction.client.rest.post(Routes.interactionCallback(interaction.id, interaction.token), {
      body: { type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: 0 } },
      auth: false,
      query: new URLSearchParams({ with_response: 'true' }),
    }),
  )) as RESTPostAPIInteractionCallbackWithResponseResult | undefined;
  interaction.deferred = true;
  interaction.ephemeral = false;
  return answer?.resource?.message?.id ?? (await interaction.fetchReply()).id;
}

/** Acknowledges privately (a cancel click): the answer follows with `editPrivateReply`. */
export async function deferPrivately(context: DiscordContext, interaction: RepliableInteraction) {
  context.sender.remember(interaction);
  await context.acks.ack(() => interaction.deferReply({ flags: MessageFlags.Ephemeral }));
}

/** The answer to a private defer, in the channel's turn: a text, or a whole message (embeds, buttons). */
export async function editPrivateReply(
  context: DiscordContext,
  interaction: RepliableInteraction,
  answer: string | InteractionEditReplyOptions,
): Promise<void> {
  const payload = typeof answer === 'string' ? { content: answer } : answer;
  await context.sender.send({
    channelId: channelOf(interaction),
    priority: 'urgent',
    run: () => interaction.editReply({ ...payload, ...quiet }),
  });
}

/**
 * Bad input found before any I/O, answered so only the person sees it: at once when the channel has
 * room (that reply counts against its budget), else a private defer now (which does not) and the
 * answer in the channel's turn, well within the interaction's 15 minutes.
 */
export async function answerPrivately(
  context: DiscordContext,
  interaction: RepliableInteraction,
  text: string,
): Promise<void> {
  context.sender.remember(interaction);
  const now = context.sender.runNow(channelOf(interaction), () =>
    context.acks.ack(() => interaction.reply({ content: text, flags: MessageFlags.Ephemeral, ...quiet })),
  );
  if (now) {
    await now;
    return;
  }
  await deferPrivately(context, interaction);
  await editPrivateReply(context, interaction, text);
}

/**
 * A public reply that will not become a status (a refusal found after the defer: caps, the image,
 * the backend): it is deleted (not counted) and the person is told in an ephemeral follow-up.
 */
export async function withdrawPublicReply(
  context: DiscordContext,
  interaction: RepliableInteraction,
  text: string,
): Promise<void> {
  await interaction.deleteReply().catch(() => undefined);
  await context.sender.send({
    channelId: channelOf(interaction),
    priority: 'urgent',
    run: () => interaction.followUp({ content: text, flags: MessageFlags.Ephemeral, ...quiet }),
  });
}

/** Tells the person privately, whatever state the interaction is in (for unexpected errors). */
export async function tellPrivately(
  context: DiscordContext,
  interaction: RepliableInteraction,
  text: string,
): Promise<void> {
  if (!interaction.deferred && !interaction.replied) return answerPrivately(context, interaction, text);
  if (interaction.ephemeral) return editPrivateReply(context, interaction, text);
  return withdrawPublicReply(context, interaction, text);
}
