import { refusalText as neutral, type Refusal, type RefusalWords } from '../../service/refusals.js';
import { explain as explainFor, fixList as fixListOf } from '../shared/answers.js';
import type { DiscordContext } from './context.js';

/** Places as channel links (Discord shows them as #name to members), times as live timestamps. */
const DISCORD_WORDS: RefusalWords = {
  place: (place) =>
    place.isDirectMessage
      ? 'in DMs'
      : `in <#${place.channelId}>${place.serverName ? ` on ${place.serverName}` : ''}`,
  time: (unix) => `<t:${unix}:R>`,
  server: 'server',
};

/** Every refusal, in Discord's words: the one place they are written (Sapphire's "command denied"). */
export function refusalText(refusal: Refusal): string {
  switch (refusal.reason) {
    case 'channel-not-allowed':
      return `Kinema is not enabled in this channel; try ${refusal.allowed.map((id) => `<#${id}>`).join(', ')}.`;
    case 'admin-only':
      if (refusal.needs === 'server-admin') {
        return 'Only members with the Manage Server permission (or the bot’s owners) can use /kinema-admin.';
      }
      return neutral(refusal, DISCORD_WORDS);
    default:
      return neutral(refusal, DISCORD_WORDS);
  }
}

/** What to tell the person about a failed request (refusals in Discord's words). */
export function explain(context: Pick<DiscordContext, 'log'>, error: unknown): string {
  return explainFor(error, context.log, refusalText);
}

/** A Discord message holds 2000 characters; settings errors leave room for the rest. */
export const fixList = (errors: string[]) => fixListOf(errors, 1900);
