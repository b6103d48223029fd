import type { ImageCategory, ImageVerdict } from './image-policy.js';
import type { TextVerdict } from './text-moderator.js';

/**
 * What the requester is told (privately), platform-neutral. A refusal never repeats the blocked
 * term: quoting it back would post it under the bot's name, and would teach the way around the list.
 */

export interface RefusalContext {
  /** "server" on Discord, "workspace" on Slack. */
  place?: 'server' | 'workspace';
  /** MODERATION_ALLOW_IN_NSFW_CHANNELS is on, so the requester can be pointed there. */
  allowedInAgeRestrictedChannels?: boolean;
}

const FIELD_NAMES = { prompt: 'prompt', negative_prompt: 'negative prompt' } as const;

export function textRefusal(
  verdict: TextVerdict & { status: 'flagged' },
  context: RefusalContext = {},
): string {
  const field = FIELD_NAMES[verdict.field];
  const whose = {
    offensive: 'this bot does not allow (profanity or sexual content)',
    operator: "this bot's operator does not allow",
    server: `this ${context.place ?? 'server'} does not allow`,
  }[verdict.category];
  return `Your ${field} contains a word ${whose}; nothing was queued. Reword it and try again.`;
}

export function inputImageRefusal(
  verdict: ImageVerdict & { status: 'flagged' },
  context: RefusalContext = {},
): string {
  return `Your image ${looksLike(verdict.category)}, which is not allowed here; nothing was queued.${elsewhere(context)}`;
}

/** Sent privately to the requester instead of posting the result. */
export function withheldResultNotice(
  verdict: ImageVerdict & { status: 'flagged' },
  context: RefusalContext = {},
): string {
  return (
    `Your video was made but not posted: part of it ${looksLike(verdict.category)}, which is not allowed ` +
    `here.${elsewhere(context)}`
  );
}

function looksLike(category: ImageCategory): string {
  return category === 'explicit' ? 'looks like explicit content' : 'looks sexually suggestive';
}

function elsewhere(context: RefusalContext): string {
  return context.allowedInAgeRestrictedChannels ? ' It is allowed in channels marked age-restricted.' : '';
}
