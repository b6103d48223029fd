import type { App } from '@slack/bolt';
import { UserFacingError } from '../../../core/errors.js';
import type { GenerationRequest, GenerationSettings } from '../../../core/request.js';
import { keyValues, remixValues } from '../../../core/result-details.js';
import { truncate } from '../../../core/status-text.js';
import type { VideoSource } from '../../../service/extend.js';
import { capitalise } from '../../shared/answers.js';
import { NOT_POSTED, postedVideo } from '../../shared/posted-video.js';
import { SLACK_IDS, type SlackContext } from '../context.js';
import {
  originOf,
  type Place,
  reportTarget,
  type SlackFileRef,
  type StartAnswer,
  submitAndAnswer,
  tell,
} from '../intake.js';
import { refusalText } from '../refusals.js';
import { escapeMrkdwn } from '../render.js';
import { ADVANCED } from '../settings.js';
import { COMMON_FIELDS, errorsByBlock, fieldBlock, plain, readModal, VALUE_ACTION } from './animate-modal.js';

/**
 * A result's "Extend" on Slack: a modal pre-filled with its prompt, negative prompt and settings
 * (as key=value); submitted, a new job from the result's last frame, delivered as the result
 * followed by the continuation, one per view however often it arrives. The result's mp4 is fetched
 * back from the message that shares it (files.info, then url_private with the bot token, only from
 * Slack's file hosts), as the modal's file input is.
 */

interface ExtendMeta {
  parentJobId: string;
  /** The shared mp4 of the clicked message, when it carried one. */
  fileId?: string;
}

const EXPIRED = "That video's settings have expired, so it cannot be extended; start a new /animate.";
/** The form's own fields; the seed is left out, so a continuation gets a new one unless typed. */
const OWN = new Set(['prompt', 'negative_prompt', 'seed']);

export function extendModal(meta: ExtendMeta, request: GenerationRequest) {
  const values = remixValues(request);
  const rest = [...values].filter(([name]) => !OWN.has(name));
  const fields = COMMON_FIELDS.filter((field) => field.name === 'prompt' || field.name === 'negative_prompt');
  return {
    type: 'modal' as const,
    callback_id: SLACK_IDS.extendView,
    title: plain('Extend this video'),
    submit: plain('Extend'),
    close: plain('Cancel'),
    private_metadata: JSON.stringify(meta),
    blocks: [
      {
        type: 'context' as const,
        elements: [
          {
            type: 'mrkdwn' as const,
            text: `Extending \`${meta.parentJobId}\` from its last frame (*${escapeMrkdwn(truncate(request.prompt, 200))}*). Say what happens next, then Extend.`,
          },
        ],
      },
      ...fields.map((field) => fieldBlock(field, values.get(field.name as never))),
      {
        type: 'input' as const,
        block_id: ADVANCED,
        optional: true,
        label: plain('Model, length and more'),
        hint: plain('key=value pairs, as the video had them; a seed here replaces the new random one'),
        element: {
          type: 'plain_text_input' as const,
          action_id: VALUE_ACTION,
          max_length: 1000,
          ...(rest.length > 0 ? { initial_value: truncate(keyValues(rest), 1000) } : {}),
        },
      },
    ],
  };
}

/** The shared mp4, fetched once the service asks for it (every check passed). */
function postedCopy(context: SlackContext, parentJobId: string, fileId: string | undefined): VideoSource {
  return {
    resolve: async () => {
      const id = fileId ?? (await context.messages.delivered(parentJobId))?.fileId;
      if (!id) throw new UserFacingError(NOT_POSTED);
      const info = await context.clients.web.files.info({ file: id });
      const file = info.file as SlackFileRef | undefined;
      const url = file?.url_private_download ?? file?.url_private;
      if (!url) throw new UserFacingError(NOT_POSTED);
      return {
        url,
        allowedHosts: context.fileHosts,
        headers: { Authorization: `Bearer ${context.botToken}` },
      };
    },
  };
}

async function extendJob(
  context: SlackContext,
  input: {
    meta: ExtendMeta;
    jobId: string;
    user: { id: string; name?: string };
    settings: GenerationSettings;
  },
): Promise<StartAnswer> {
  const parent = await context.service.record(input.meta.parentJobId);
  if (parent?.reportTo.platform !== 'slack') return { ok: false, text: EXPIRED };
  const place: Place = {
    channel: String(parent.reportTo.channel),
    ...(parent.reportTo.threadTs ? { threadTs: String(parent.reportTo.threadTs) } : {}),
  };
  const displayName = input.user.name || (await context.users.displayName(input.user.id));
  const origin = originOf(context, input.user.id, place.channel, displayName);
  const original = postedCopy(context, input.meta.parentJobId, input.meta.fileId);
  return submitAndAnswer(
    context,
    () =>
      context.service.extend(input.meta.parentJobId, {
        jobId: input.jobId,
        origin,
        reportTo: reportTarget(context, place),
        settings: input.settings,
        original,
      }),
    place,
    origin,
  );
}

export function register(app: App, context: SlackContext): void {
  app.action(SLACK_IDS.extendAction, async ({ ack, action, body }) => {
    await context.acks.ack(() => ack());
    if (action.type !== 'button' || body.type !== 'block_actions' || !action.value) return;
    const parentJobId = action.value;
    const reply = { userId: body.user.id, channel: body.channel?.id, responseUrl: body.response_url };
    // Two Redis reads, then the modal: the trigger lives about 3 s.
    const [record, chain] = await Promise.all([
      context.service.record(parentJobId),
      context.service.extendRefusal(parentJobId),
    ]);
    if (!record) return tell(context, reply, EXPIRED);
    if (chain) return tell(context, reply, `${capitalise(escapeMrkdwn(chain))}.`);
    const files = ((body.message as { files?: SlackFileRef[] } | undefined)?.files ?? []).map((file) => ({
      ...file,
      name: file.name ?? null,
    }));
    const index = record.group?.index;
    const shared = postedVideo(files, { seed: record.request.seed, ...(index ? { index } : {}) });
    await context.clients.web.views.open({
      trigger_id: body.trigger_id,
      view: extendModal({ parentJobId, ...(shared ? { fileId: shared.id } : {}) }, record.request),
    });
  });

  app.view(SLACK_IDS.extendView, async ({ ack, body, view }) => {
    let meta: ExtendMeta | undefined;
    try {
      meta = JSON.parse(view.private_metadata) as ExtendMeta;
    } catch {
      meta = undefined;
    }
    if (typeof meta?.parentJobId !== 'string') {
      await ack({
        response_action: 'errors',
        errors: { prompt: 'This form is out of date; press Extend again.' },
      });
      return;
    }
    const read = readModal(view);
    const errors = read.settings.ok ? {} : errorsByBlock(read.settings.bySource);
    const [parent, chain] = await Promise.all([
      context.service.record(meta.parentJobId),
      context.service.extendRefusal(meta.parentJobId),
    ]);
    if (!parent) errors.prompt = EXPIRED;
    else if (chain) errors.prompt = truncate(`${capitalise(chain)}.`, 300);
    else {
      const origin = originOf(context, body.user.id, String(parent.reportTo.channel), body.user.name);
      const refused = await context.service.refusal(
        origin,
        Object.keys(errors).length === 0 ? 'capacity' : 'access',
      );
      if (refused) errors.prompt = truncate(refusalText(refused), 300);
    }
    if (Object.keys(errors).length > 0 || !read.settings.ok) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    await context.acks.ack(() => ack());
    await context.acks.settled();
    // One job per view, even if the same submission arrives twice at once.
    if (!(await context.messages.claim('message', `view-${view.id}`))) return;
    const answer = await extendJob(context, {
      meta,
      jobId: `sl-${view.id}`,
      user: { id: body.user.id, ...(body.user.name ? { name: body.user.name } : {}) },
      settings: read.settings.value,
    });
    if (!answer.ok) {
      await tell(context, { userId: body.user.id, channel: String(parent!.reportTo.channel) }, answer.text);
    }
  });
}
