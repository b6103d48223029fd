import {
  type ButtonInteraction,
  ModalBuilder,
  type ModalSubmitInteraction,
  TextInputStyle,
} from 'discord.js';
import { MODEL_IDS, PROMPT_MAX_CHARS } from '../../core/request.js';
import { keyValues, remixValues } from '../../core/result-details.js';
import { truncate } from '../../core/status-text.js';
import type { JobDetails } from '../../service/generation-service.js';
import type { DiscordContext } from './context.js';
import { clickedBy, clickedIn, formParent, prefilledField } from './derived-form.js';
import { replyPlace, settingsFrom, submitAndAnswer } from './intake.js';
import { explain, fixList, refusalText } from './refusals.js';
import { CUSTOM_ID } from './render.js';
import {
  answerPrivately,
  deferPrivately,
  deferPublicly,
  editPrivateReply,
  withdrawPublicReply,
} from './replies.js';
import { rerunOrigin } from './rerun.js';

/**
 * A result's "Remix" (a form pre-filled with its prompt, negative prompt, model, seed, length and
 * size; submitted, a new job on the same stored image, its parent linked) and "Details" (privately:
 * the seed and every setting it used, and the /animate options that reproduce it).
 */

/** Modal fields (Discord allows 5): these four have their own, the rest go as key=value text. */
const OWN_FIELDS = ['prompt', 'negative_prompt', 'model', 'seed'] as const;
const SETTINGS_FIELD = 'settings';
const EXPIRED = "That video's settings have expired, so it cannot be remixed; start a new /animate.";

/** The Remix button: the form opens pre-filled from the stored job (one Redis read, then the modal). */
export async function openRemix(context: DiscordContext, interaction: ButtonInteraction, jobId: string) {
  const record = await formParent(context, interaction, jobId, EXPIRED);
  if (!record) return;
  const values = remixValues(record.request);
  const rest = [...values].filter(([name]) => !(OWN_FIELDS as readonly string[]).includes(name));
  // Custom ids hold 100 characters; a job id too long for one cannot be remixed from a form.
  const customId = CUSTOM_ID.remixModal(interaction.id, jobId);
  if (customId.length > 100) return answerPrivately(context, interaction, EXPIRED);
  const paragraph = TextInputStyle.Paragraph;
  const modal = new ModalBuilder()
    .setCustomId(customId)
    .setTitle('Remix this video')
    .addComponents(
      prefilledField(
        'prompt',
        'Prompt: what should happen?',
        paragraph,
        values.get('prompt'),
        PROMPT_MAX_CHARS,
      ),
      prefilledField(
        'negative_prompt',
        'Negative prompt',
        paragraph,
        values.get('negative_prompt'),
        PROMPT_MAX_CHARS,
      ),
      prefilledField(
        'model',
        `Model (${MODEL_IDS.join(', ')})`.slice(0, 45),
        TextInputStyle.Short,
        values.get('model'),
        40,
      ),
      prefilledField(
        'seed',
        'Seed (empty or -1: a new random one)',
        TextInputStyle.Short,
        values.get('seed'),
        12,
      ),
      prefilledField(
        SETTINGS_FIELD,
        'Length, size and more (key=value)',
        TextInputStyle.Short,
        keyValues(rest),
        1000,
      ),
    );
  // The modal is the acknowledgement.
  await context.acks.ack(() => interaction.showModal(modal));
}

/**
 * The form came back: read and validated with the request schema (bad values answered privately),
 * then acknowledged publicly; the job's id comes from the click that opened the form, so a double
 * submit queues one job.
 */
export async function submitRemix(context: DiscordContext, interaction: ModalSubmitInteraction) {
  const match = /^kinema:remix-modal:(\d+):(.+)$/.exec(interaction.customId);
  if (!match) return;
  const [, openerId, parentJobId] = match as unknown as [string, string, string];
  const options: Record<string, string> = {};
  for (const id of OWN_FIELDS) {
    const value = interaction.fields.getTextInputValue(id).trim();
    // An emptied negative prompt means none; other emptied fields keep the parent's (a new seed).
    if (value !== '' || id === 'negative_prompt') options[id] = value;
  }
  const settings = settingsFrom(options, interaction.fields.getTextInputValue(SETTINGS_FIELD));
  if (!settings.ok) return answerPrivately(context, interaction, fixList(settings.errors));
  const input = { parentJobId, ...clickedBy(interaction) };
  const refused = await context.service.refusal(rerunOrigin(context, input, clickedIn(interaction)));
  if (refused) return answerPrivately(context, interaction, refusalText(refused));
  const messageId = await deferPublicly(context, interaction);
  await context.acks.settled();
  const place = { ...replyPlace(interaction, messageId, input.user.displayName), jobId: `dc-${openerId}` };
  const origin = rerunOrigin(context, input, place);
  const answer = await submitAndAnswer(
    context,
    (reportTo) =>
      context.service.remix(parentJobId, { jobId: place.jobId, origin, reportTo, settings: settings.value }),
    place,
  );
  if (!answer.ok || answer.duplicate) await withdrawPublicReply(context, interaction, answer.text);
}

/** The Details button: privately, what the job used and how to ask for it again. */
export async function showDetails(context: DiscordContext, interaction: ButtonInteraction, jobId: string) {
  await deferPrivately(context, interaction);
  await context.acks.settled();
  let text: string;
  try {
    const details = await context.service.details(jobId);
    text = details
      ? detailsText(details)
      : "That video's settings have expired (they are kept for a while only).";
  } catch (error) {
    text = explain(context, error);
  }
  await editPrivateReply(context, interaction, text);
}

/** Discord markdown of the details, within one message's 2000 characters. */
export function detailsText(details: JobDetails): string {
  const { request } = details;
  const quoted = (value: string) => (/\s/.test(value) || value === '' ? `"${value}"` : value);
  const command = [
    '/animate image:(the same image)',
    ...details.options.map(
      ([name, value]) => `${name}:${quoted(name === 'prompt' ? truncate(value, 300) : value)}`,
    ),
  ].join(' ');
  return truncate(
    [
      `**Details of job \`${details.jobId}\`** (for <@${details.requester.userId}>)`,
      `Prompt: “${truncate(request.prompt, 600)}”`,
      ...details.lines.map((line) => truncate(line, 300)),
      '',
      'To reproduce it, with the same image:',
      `\`${truncate(command, 800)}\``,
      '-# Or press Remix to run it again on the stored image, with any setting changed.',
    ].join('\n'),
    2000,
  );
}
