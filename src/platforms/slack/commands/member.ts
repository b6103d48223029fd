import type { types } from '@slack/bolt';
import { truncate } from '../../../core/status-text.js';
import type { JobView } from '../../../service/job-views.js';
import { historyText, jobsText, quotaText, helpText as settingsHelp } from '../../shared/member-texts.js';
import type { SlackContext } from '../context.js';
import { cancelButton, escapeMrkdwn } from '../render.js';
import { linksOf, requesterOf, type SlackAnswer, SLACK_COMMAND_WORDS as words } from './views.js';

/** `/animate jobs|quota|history|help`: what a member may see of their own, always privately. */

export const MEMBER_SUBCOMMANDS = ['jobs', 'quota', 'history', 'help'] as const;
export type MemberSubcommand = (typeof MEMBER_SUBCOMMANDS)[number];

const HELP_INTRO = [
  '*Kinema turns an image and a prompt into a short video.*',
  '• `/animate [prompt]` opens a form: attach the image, write the prompt, pick options.',
  '• Mention me in a message with an image: `@Kinema the cat yawns num_frames=49`.',
  '• On any message with an image: ⋮ → *Animate this image*.',
  '• On a result: *Rerun (new seed)* or react :game_die: / :repeat:. Cancel with the button or :x:.',
  '• Also `resolution` (480p/720p) and `seconds` as key=value.',
];

/** `/animate help`: every setting with its range and default, from the same schema the modal is built from. */
export function helpText(): string {
  // Sent as a plain message (not a section), which holds more.
  return settingsHelp({ ...words, max: 3900 }, HELP_INTRO);
}

/** The list, then one line per job in flight with its own Cancel button. */
function jobsBlocks(text: string, inFlight: readonly JobView[]): types.KnownBlock[] {
  const blocks: types.KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text } }];
  for (const job of inFlight.slice(0, 40)) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `“${escapeMrkdwn(truncate(job.prompt, 200))}”` },
      accessory: cancelButton(job.jobId),
    });
  }
  return blocks;
}

export async function memberAnswer(
  context: SlackContext,
  sub: MemberSubcommand,
  userId: string,
): Promise<string | SlackAnswer> {
  const { members } = context.service;
  const requester = requesterOf(context, userId);
  switch (sub) {
    case 'jobs': {
      const jobs = await members.jobsOf(requester);
      const inFlight = [...jobs.rendering, ...jobs.waiting];
      const text = jobsText(jobs, await linksOf(context, [...inFlight, ...jobs.recent]), words);
      return { text, blocks: jobsBlocks(text, inFlight) };
    }
    case 'quota':
      return quotaText(await members.quotaOf(requester), words);
    case 'history': {
      const videos = await members.historyOf(requester);
      return historyText(videos, await linksOf(context, videos), words);
    }
    default:
      return helpText();
  }
}
