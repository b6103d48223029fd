import {
  type Attachment,
  type ButtonInteraction,
  type Message,
  ModalBuilder,
  type ModalSubmitInteraction,
  TextInputStyle,
} from 'discord.js';
import { UserFacingError } from '../../core/errors.js';
import { PROMPT_MAX_CHARS } from '../../core/request.js';
import { keyValues, remixValues } from '../../core/result-details.js';
import type { VideoSource } from '../../service/extend.js';
import { capitalise } from '../shared/answers.js';
import { NOT_POSTED, postedVideo } from '../shared/posted-video.js';
import type { DiscordContext } from './context.js';
import { clickedBy, clickedIn, formParent, prefilledField } from './derived-form.js';
import { replyPlace, settingsFrom, submitAndAnswer } from './intake.js';
import { fixList, refusalText } from './refusals.js';
import { CUSTOM_ID } from './render.js';
import { answerPrivately, deferPublicly, withdrawPublicReply } from './replies.js';
import { rerunOrigin } from './rerun.js';

/**
 * A result's "Extend": a form pre-filled with its prompt, negative prompt and settings; submitted,
 * a new job from the result's last frame, delivered as the result followed by the continuation.
 * The result's mp4 is fetched back from the post itself (the form's message, with fresh signed CDN
 * URLs), only from Discord's CDN hosts; the service refuses a chain past MAX_EXTENSIONS.
 */

const SETTINGS_FIELD = 'settings';
/** The form's own fields; the seed is left out, so a continuation gets a new one unless typed. */
const NOT_IN_SETTINGS = new Set(['prompt', 'negative_prompt', 'seed']);
const EXPIRED = "That video's settings have expired, so it cannot be extended; start a new /animate.";
const MODAL_ID = /^kinema:extend-modal:(\d+):(.+)$/;

/** The Extend button: refused privately past MAX_EXTENSIONS, else the form, pre-filled from the stored job. */
export async function openExtend(context: DiscordContext, interaction: ButtonInteraction, jobId: string) {
  const record = await formParent(context, interaction, jobId, EXPIRED);
  if (!record) return;
  const chain = await context.service.extendRefusal(jobId);
  if (chain) return answerPrivately(context, interaction, `${capitalise(chain)}.`);
  const customId = CUSTOM_ID.extendModal(interaction.id, jobId);
  if (customId.length > 100) return answerPrivately(context, interaction, EXPIRED);
  const values = remixValues(record.request);
  const rest = [...values].filter(([name]) => !NOT_IN_SETTINGS.has(name));
  const paragraph = TextInputStyle.Paragraph;
  const modal = new ModalBuilder()
    .setCustomId(customId)
    .setTitle('Extend this video')
    .addComponents(
      prefilledField('prompt', 'What happens next?', paragraph, values.get('prompt'), PROMPT_MAX_CHARS),
      prefilledField(
        'negative_prompt',
        'Negative prompt',
        paragraph,
        values.get('negative_prompt'),
        PROMPT_MAX_CHARS,
      ),
      prefilledField(
        SETTINGS_FIELD,
        'Model, length and more (key=value)',
        TextInputStyle.Short,
        keyValues(rest),
        1000,
      ),
    );
  // The modal is the acknowledgement.
  await context.acks.ack(() => interaction.showModal(modal));
}

/** The post's copy of the job's video, found once the service asks for it (after every check). */
function postedCopy(
  context: DiscordContext,
  interaction: ModalSubmitInteraction,
  parentJobId: string,
): VideoSource {
  return {
    resolve: async () => {
      const record = await context.service.record(parentJobId);
      const messageId = await context.messages.delivered(parentJobId);
      let message: Message | null | undefined = interaction.message;
      if (message?.id !== messageId && messageId && interaction.channel) {
        message = await interaction.channel.messages.fetch(messageId).catch(() => undefined);
      }
      const attachments: Attachment[] = [...(message?.attachments.values() ?? [])];
      const index = record?.group?.index;
      const video = postedVideo(
        attachments.map((attachment) => ({ attachment, name: attachment.name })),
        { seed: record?.request.seed ?? -1, ...(index ? { index } : {}) },
      );
      if (!video) throw new UserFacingError(NOT_POSTED);
      return { url: video.attachment.url, allowedHosts: context.cdnHosts };
    },
  };
}

/**
 * The form came back: read with the request schema (bad values answered privately), acknowledged
 * publicly, then extended; the job's id comes from the click that opened the form, so a double
 * submit queues one job.
 */
export async function submitExtend(context: DiscordContext, interaction: ModalSubmitInteraction) {
  const match = MODAL_ID.exec(interaction.customId);
  if (!match) return;
  const [, openerId, parentJobId] = match as unknown as [string, string, string];
  const options: Record<string, string> = {};
  for (const id of ['prompt', 'negative_prompt']) {
    const value = interaction.fields.getTextInputValue(id).trim();
    // An emptied negative prompt means none; an emptied prompt keeps the parent's.
    if (value !== '' || id === 'negative_prompt') options[id] = value;
  }
  const settings = settingsFrom(options, interaction.fields.getTextInputValue(SETTINGS_FIELD));
  if (!settings.ok) return answerPrivately(context, interaction, fixList(settings.errors));
  const input = { parentJobId, ...clickedBy(interaction) };
  const refused = await context.service.refusal(rerunOrigin(context, input, clickedIn(interaction)));
  if (refused) return answerPrivately(context, interaction, refusalText(refused));
  const chain = await context.service.extendRefusal(parentJobId);
  if (chain) return answerPrivately(context, interaction, `${capitalise(chain)}.`);
  const messageId = await deferPublicly(context, interaction);
  await context.acks.settled();
  const place = { ...replyPlace(interaction, messageId, input.user.displayName), jobId: `dc-${openerId}` };
  const origin = rerunOrigin(context, input, place);
  const original = postedCopy(context, interaction, parentJobId);
  const answer = await submitAndAnswer(
    context,
    (reportTo) =>
      context.service.extend(parentJobId, {
        jobId: place.jobId,
        origin,
        reportTo,
        settings: settings.value,
        original,
      }),
    place,
  );
  if (!answer.ok || answer.duplicate) await withdrawPublicReply(context, interaction, answer.text);
}
