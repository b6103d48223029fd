import type { types } from '@slack/bolt';
import type { Cost, ParentKind } from '../../core/job.js';
import type { GenerationRequest } from '../../core/request.js';
import {
  type JobSnapshot,
  renderStatus,
  resultCaption,
  type StatusView,
  truncate,
} from '../../core/status-text.js';
import { parentLine } from '../shared/posted-video.js';
import { SLACK_IDS } from './context.js';

/** Slack blocks for the platform-neutral status text (core/status-text.ts). */

type Block = types.KnownBlock;

/** Text from users or backends goes into mrkdwn escaped, so it can never ping @channel or fake a link. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A time every client shows in its own time zone; the fallback is UTC for old clients. */
export function slackDate(unix: number, format = '{time}'): string {
  const fallback = `${new Date(unix * 1000).toISOString().slice(11, 16)} UTC`;
  return `<!date^${unix}^${format}|${fallback}>`;
}

const button = (
  text: string,
  actionId: string,
  jobId: string,
  style?: 'primary' | 'danger',
): types.Button => ({
  type: 'button',
  text: { type: 'plain_text', text, emoji: true },
  action_id: actionId,
  value: jobId,
  ...(style ? { style } : {}),
});

export const cancelButton = (jobId: string) => button('Cancel', SLACK_IDS.cancelAction, jobId, 'danger');
export const rerunButton = (jobId: string, label = 'Rerun (new seed)') =>
  button(label, SLACK_IDS.rerunAction, jobId, 'primary');

export const remixButton = (jobId: string) => button('Remix', SLACK_IDS.remixAction, jobId);
export const extendButton = (jobId: string) => button('⏩ Extend', SLACK_IDS.extendAction, jobId);
export const detailsButton = (jobId: string) => button('Details', SLACK_IDS.detailsAction, jobId);

/** The buttons under every result, in order. */
const RESULT_BUTTONS = [(jobId: string) => rerunButton(jobId), extendButton, remixButton, detailsButton];

export interface StatusMessage {
  view: StatusView;
  text: string;
  blocks: Block[];
}

/**
 * The status message: headline, bar and ETA, the prompt, model and seed, a Cancel button while it
 * runs (a "Try again" button once it failed or was cancelled).
 */
export function statusMessage(
  snapshot: JobSnapshot,
  info: { requesterId?: string; extra?: string[] } = {},
  view: StatusView = renderStatus(snapshot),
): StatusMessage {
  const lines = [`*${escapeMrkdwn(truncate(view.headline, 300))}*`];
  if (view.bar !== undefined) lines.push(`\`${view.bar}\` ${view.percent ?? 0}%`);
  if (view.etaUnix) lines.push(`Ready around ${slackDate(view.etaUnix)}`);
  for (const line of info.extra ?? []) lines.push(line);
  const context = [...view.details.map((detail) => escapeMrkdwn(truncate(detail, 300)))];
  context.push(`Job \`${snapshot.jobId}\`${info.requesterId ? ` · for <@${info.requesterId}>` : ''}`);
  const blocks: Block[] = [
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `>${escapeMrkdwn(truncate(snapshot.request.prompt, 600)).replace(/\n/g, '\n>')}`,
      },
    },
    { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(context.join('\n'), 2900) }] },
  ];
  if (!view.finished) {
    blocks.push({ type: 'actions', elements: [cancelButton(snapshot.jobId)] });
  } else if (snapshot.state === 'failed' || snapshot.state === 'cancelled') {
    blocks.push({ type: 'actions', elements: [rerunButton(snapshot.jobId, 'Try again (new seed)')] });
  }
  const percent = view.percent !== undefined && !view.finished ? ` ${view.percent}%` : '';
  const text = truncate(`${view.headline}${percent}: “${truncate(snapshot.request.prompt, 120)}”`, 400);
  return { view, text: escapeMrkdwn(text), blocks };
}

/** Caption and buttons of the uploaded video: prompt, model, seed, length, who asked, Rerun. */
export function resultMessage(
  jobId: string,
  request: GenerationRequest,
  info: {
    requesterId: string;
    durationSeconds?: number;
    parentJobId?: string;
    parentKind?: ParentKind;
    notes: string[];
    cost?: Cost;
  },
): { text: string; blocks: Block[] } {
  const [prompt, details] = resultCaption(
    request,
    { durationSeconds: info.durationSeconds, cost: info.cost },
    600,
  );
  const lines = [escapeMrkdwn(prompt ?? ''), `${escapeMrkdwn(details ?? '')} · for <@${info.requesterId}>`];
  const parent = parentLine(
    info.parentKind,
    info.parentJobId ? `\`${info.parentJobId}\`` : undefined,
    info.durationSeconds,
  );
  if (parent) lines.push(parent);
  const context = [
    ...info.notes.map((note) => escapeMrkdwn(truncate(note, 200))),
    'React :game_die: or :repeat: to rerun with a new seed',
  ];
  return {
    text: escapeMrkdwn(truncate(`${prompt ?? ''} · ${details ?? ''}`, 400)),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), 2900) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(context.join('\n'), 2900) }] },
      { type: 'actions', elements: RESULT_BUTTONS.map((make) => make(jobId)) },
    ],
  };
}
