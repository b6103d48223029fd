import { refusalText as neutral, type Refusal, type RefusalWords } from '../../service/refusals.js';
import { explain as explainFor, fixList as fixListOf } from '../shared/answers.js';
import type { SlackContext } from './context.js';
import { slackDate } from './render.js';

/** Places as channel links, times in the reader's own time zone. */
const SLACK_WORDS: RefusalWords = {
  place: (place) => (place.isDirectMessage ? 'in your DM with Kinema' : `in <#${place.channelId}>`),
  time: (unix) => slackDate(unix, '{date_short_pretty} {time}'),
  server: 'workspace',
};

/** Every refusal, in Slack's words: the one place they are written (Sapphire's "command denied"). */
export function refusalText(refusal: Refusal): string {
  switch (refusal.reason) {
    case 'not-owner':
      return 'Only the person who asked for this video (or a workspace admin) can cancel it.';
    case 'admin-only':
      if (refusal.needs === 'server-admin') {
        return 'Only workspace admins and owners (or the bot’s owners) can use `/animate admin`.';
      }
      return neutral(refusal, SLACK_WORDS);
    default:
      return neutral(refusal, SLACK_WORDS);
  }
}

/** What to tell the person about a failed request (refusals in Slack's words). */
export function explain(context: Pick<SlackContext, 'log'>, error: unknown): string {
  return explainFor(error, context.log, refusalText);
}

/** A Slack message holds 3000 characters in a section; settings errors leave room for the rest. */
export const fixList = (errors: string[]) => fixListOf(errors, 2900);
