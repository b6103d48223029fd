import type { App } from '@slack/bolt';
import type { GenerationRequest } from '../../../core/request.js';
import { keyValues, remixValues } from '../../../core/result-details.js';
import { truncate } from '../../../core/status-text.js';
import type { JobDetails } from '../../../service/generation-service.js';
import { SLACK_IDS, type SlackContext } from '../context.js';
import { originOf, tell } from '../intake.js';
import { rerunJob } from '../jobs.js';
import { refusalText } from '../refusals.js';
import { escapeMrkdwn } from '../render.js';
import { ADVANCED } from '../settings.js';
import {
  COMMON_FIELDS,
  errorsByBlock,
  fieldBlock,
  OTHER_FIELDS,
  plain,
  readModal,
  VALUE_ACTION,
} from './animate-modal.js';

/**
 * A result's "Remix" (a modal pre-filled from the stored job: prompt, negative prompt and every
 * common setting, the rest as key=value; submitted, a new job on the same stored image, its parent
 * linked, one per view however often it arrives) and "Details" (privately: the seed, every setting
 * and the /animate text that asks for it again).
 */

interface RemixMeta {
  parentJobId: string;
}

const EXPIRED = "That video's settings have expired, so it cannot be remixed; start a new /animate.";

export function remixModal(parentJobId: string, request: GenerationRequest) {
  const values = remixValues(request);
  const rest = OTHER_FIELDS.filter((field) => values.has(field.name as never)).map(
    (field): [string, string] => [field.name, values.get(field.name as never)!],
  );
  return {
    type: 'modal' as const,
    callback_id: SLACK_IDS.remixView,
    title: plain('Remix this video'),
    submit: plain('Remix'),
    close: plain('Cancel'),
    private_metadata: JSON.stringify({ parentJobId } satisfies RemixMeta),
    blocks: [
      {
        type: 'context' as const,
        elements: [
          {
            type: 'mrkdwn' as const,
            text: `Remixing \`${parentJobId}\` on the same image (*${escapeMrkdwn(request.input_image.filename)}*). Change anything, then Remix.`,
          },
        ],
      },
      ...COMMON_FIELDS.map((field) => fieldBlock(field, values.get(field.name as never))),
      {
        type: 'input' as const,
        block_id: ADVANCED,
        optional: true,
        label: plain('Advanced settings'),
        hint: plain(truncate(`key=value pairs. Also: ${OTHER_FIELDS.map((f) => f.name).join(', ')}`, 2000)),
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

/** The details in Slack mrkdwn, for an ephemeral answer. */
export function detailsText(details: JobDetails): string {
  const quoted = (value: string) => (/\s/.test(value) ? `"${value.replace(/"/g, '\\"')}"` : value);
  const [prompt, ...options] = details.options;
  const command = [
    '/animate',
    truncate(prompt?.[1] ?? details.request.prompt, 300),
    ...options.filter(([name]) => name !== 'advanced').map(([name, value]) => `${name}=${quoted(value)}`),
    ...options.filter(([name]) => name === 'advanced').map(([, value]) => value),
  ].join(' ');
  return truncate(
    [
      `*Details of job \`${details.jobId}\`* (for <@${details.requester.userId}>)`,
      `Prompt: “${escapeMrkdwn(truncate(details.request.prompt, 600))}”`,
      ...details.lines.map((line) => escapeMrkdwn(truncate(line, 300))),
      '',
      'To reproduce it, attach the same image to:',
      `\`${escapeMrkdwn(truncate(command, 800))}\``,
      'Or press Remix to run it again on the stored image, with any setting changed.',
    ].join('\n'),
    3000,
  );
}

export function register(app: App, context: SlackContext): void {
  app.action(SLACK_IDS.remixAction, async ({ ack, action, body }) => {
    await context.acks.ack(() => ack());
    if (action.type !== 'button' || body.type !== 'block_actions' || !action.value) return;
    const reply = { userId: body.user.id, channel: body.channel?.id, responseUrl: body.response_url };
    // One Redis read, then the modal: the trigger lives about 3 s.
    const record = await context.service.record(action.value);
    if (!record) return tell(context, reply, EXPIRED);
    await context.clients.web.views.open({
      trigger_id: body.trigger_id,
      view: remixModal(action.value, record.request),
    });
  });

  app.action(SLACK_IDS.detailsAction, async ({ ack, action, body }) => {
    await context.acks.ack(() => ack());
    await context.acks.settled();
    if (action.type !== 'button' || body.type !== 'block_actions' || !action.value) return;
    const details = await context.service.details(action.value);
    await tell(
      context,
      { userId: body.user.id, channel: body.channel?.id, responseUrl: body.response_url },
      details ? detailsText(details) : "That video's settings have expired (they are kept for a while only).",
    );
  });

  app.view(SLACK_IDS.remixView, async ({ ack, body, view }) => {
    let meta: RemixMeta | undefined;
    try {
      meta = JSON.parse(view.private_metadata) as RemixMeta;
    } catch {
      meta = undefined;
    }
    if (typeof meta?.parentJobId !== 'string') {
      await ack({
        response_action: 'errors',
        errors: { prompt: 'This form is out of date; press Remix again.' },
      });
      return;
    }
    const read = readModal(view, { untickedIsFalse: true });
    const errors = read.settings.ok ? {} : errorsByBlock(read.settings.bySource);
    const parent = await context.service.record(meta.parentJobId);
    if (!parent) errors.prompt = EXPIRED;
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
    const answer = await rerunJob(context, {
      parentJobId: meta.parentJobId,
      jobId: `sl-${view.id}`,
      user: { id: body.user.id, ...(body.user.name ? { displayName: body.user.name } : {}) },
      settings: read.settings.value,
    });
    if (!answer.ok) {
      await tell(context, { userId: body.user.id, channel: String(parent!.reportTo.channel) }, answer.text);
    }
  });
}
