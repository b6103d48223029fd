import { UserFacingError } from '../core/errors.js';
import type { JobPlace } from '../core/job.js';
import type { ImageCategory } from './moderation/image-policy.js';
import { inputImageRefusal, textRefusal } from './moderation/messages.js';
import type { TextCategory, TextField } from './moderation/text-moderator.js';
import type { QuotaScope } from './quotas.js';

/**
 * Why a request is not taken, as data. Checks (checks.ts) return these; each platform turns them
 * into words in one function (`discord/refusals.ts`, `slack/refusals.ts`), the way Sapphire's
 * preconditions return an error that one "command denied" listener answers.
 *
 * A new rule adds its variant here with neutral words below, and its check in checks.ts; both
 * platforms then refuse with it. What differs between platforms (how a place or a time is
 * written) is a `RefusalWords` each platform passes.
 */
export type Refusal =
  /** A direct message where the bot works in servers only. */
  | { reason: 'dms-off' }
  | { reason: 'server-not-allowed' }
  | { reason: 'channel-not-allowed'; allowed: readonly string[] }
  | { reason: 'role-not-allowed' }
  /** The bot may not post its status and video there; `missing` names the permissions. */
  | { reason: 'bot-cannot-post'; missing: readonly string[] }
  /** The person's jobs in flight, wherever they asked for them, and the caps they hit. */
  | {
      reason: 'over-cap';
      rendering: readonly JobPlace[];
      waiting: readonly JobPlace[];
      maxRunning: number;
      maxWaiting: number;
      /** Videos asked for at once (`variants`), when more than one. */
      asked?: number;
    }
  /** A daily quota is used up; `freesAt` (epoch seconds) is when one more video fits. */
  | {
      reason: 'over-quota';
      scope: QuotaScope;
      limit: number;
      used: number;
      reserved: number;
      /** Videos asked for at once (`variants`), when more than one. */
      asked?: number;
      freesAt: number;
    }
  /** An admin paused this server, or an owner the whole bot. */
  | { reason: 'paused'; scope: 'server' | 'bot' }
  /** The prompt or negative prompt hit a blocked term; the term itself is never repeated. */
  | { reason: 'prompt-blocked'; field: TextField; category: TextCategory }
  | {
      reason: 'image-flagged';
      image: 'image' | 'end frame';
      category: ImageCategory;
      allowedInAgeRestrictedChannels: boolean;
    }
  /** The image classifier cannot run: nothing is accepted unchecked. */
  | { reason: 'moderation-unavailable' }
  /** Every worker says its backend is down: a job would only wait. */
  | { reason: 'backend-down'; problems: readonly string[] }
  /** Workers found the model's service gone (a retired app); `text` names the models that work. */
  | { reason: 'model-unavailable'; text: string }
  /** The backend cannot do this with the model (an end frame, a LoRA); `what` is "an end frame". */
  | { reason: 'unsupported'; what: string; model: string; backend: string }
  /** `loop` (whose end frame is the start image) asked for together with an end frame. */
  | { reason: 'loop-with-end-frame' }
  /** A user-supplied link refused (not https, not a public host); `problem` says why. */
  | { reason: 'bad-link'; problem: string }
  /** Only the requester or a moderator may cancel a job. */
  | { reason: 'not-owner' }
  /** An admin action by someone who is not an admin of this server (or not a bot owner). */
  | { reason: 'admin-only'; needs: 'server-admin' | 'bot-owner' }
  /** A server admin acting on another server's job. */
  | { reason: 'other-server' };

/** How a platform writes what refusals mention. */
export interface RefusalWords {
  /** Where a job was asked for: "in <#123> on Studio", "in DMs". */
  place(place: JobPlace): string;
  /** A moment (epoch seconds), ideally shown in the reader's time zone and relative to now. */
  time(unix: number): string;
  /** What the platform calls a server. */
  server: 'server' | 'workspace';
}

export const NEUTRAL_WORDS: RefusalWords = {
  place: (place) =>
    place.isDirectMessage
      ? 'in a direct message'
      : `in <#${place.channelId}>${place.serverName ? ` on ${place.serverName}` : ''}`,
  time: (unix) => `at ${new Date(unix * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  server: 'server',
};

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** "(2 in <#a> on A, in <#b>)": how many jobs where, in the order they were asked for. */
function where(places: readonly JobPlace[], words: RefusalWords): string {
  if (places.length === 0) return '';
  const counts = new Map<string, number>();
  for (const place of places) {
    const text = words.place(place);
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  return ` (${[...counts].map(([text, count]) => (count > 1 ? `${count} ${text}` : text)).join(', ')})`;
}

function overQuota(refusal: Extract<Refusal, { reason: 'over-quota' }>, words: RefusalWords): string {
  const whose = {
    person: `You have reached your quota of ${plural(refusal.limit, 'video')} per 24 hours`,
    server: `This ${words.server} has reached its quota of ${plural(refusal.limit, 'video')} per 24 hours`,
    total: `Kinema has reached its total of ${plural(refusal.limit, 'video')} per 24 hours`,
  }[refusal.scope];
  const waiting = refusal.reserved > 0 ? `, ${refusal.reserved} still waiting` : '';
  if (refusal.asked && refusal.asked > 1) {
    return `${whose} (${refusal.used} made${waiting}), so ${refusal.asked} variants do not fit; nothing was queued. Ask for fewer variants, or try again ${words.time(refusal.freesAt)}.`;
  }
  return `${whose} (${refusal.used} made${waiting}); nothing was queued. The next one frees up ${words.time(refusal.freesAt)}.`;
}

/** Words for each refusal; a platform passes its own `words` and overrides only what differs. */
export function refusalText(refusal: Refusal, words: RefusalWords = NEUTRAL_WORDS): string {
  switch (refusal.reason) {
    case 'dms-off':
      return 'Kinema works in servers only; DMs are turned off here.';
    case 'server-not-allowed':
      return 'Kinema is not enabled in this server.';
    case 'channel-not-allowed':
      return `Kinema is not enabled here; try ${refusal.allowed.map((id) => `<#${id}>`).join(', ')}.`;
    case 'role-not-allowed':
      return 'You need one of the roles allowed to use Kinema here.';
    case 'bot-cannot-post':
      return `I can't post here: I need ${refusal.missing.join(', ')} in this channel. Ask a server admin to allow it.`;
    case 'over-cap':
      return (
        (refusal.asked && refusal.asked > 1
          ? `You asked for ${refusal.asked} variants at once; that is more than fits, so nothing was queued. `
          : '') +
        `You have ${plural(refusal.rendering.length, 'video')} rendering${where(refusal.rendering, words)} ` +
        `and ${refusal.waiting.length} waiting${where(refusal.waiting, words)}. Each person may have ` +
        `${refusal.maxRunning} rendering at once and ${refusal.maxWaiting} more waiting behind them. ` +
        'Wait for one to finish, or cancel one with ❌.'
      );
    case 'over-quota':
      return overQuota(refusal, words);
    case 'paused':
      return refusal.scope === 'server'
        ? `Kinema is paused in this ${words.server} by its admins; nothing was queued. Try again once it is resumed.`
        : 'Kinema is paused by its operator; nothing was queued. Try again later.';
    case 'prompt-blocked':
      return textRefusal(
        { status: 'flagged', field: refusal.field, category: refusal.category },
        { place: words.server },
      );
    case 'image-flagged':
      return inputImageRefusal(
        { status: 'flagged', category: refusal.category, score: 1 },
        { allowedInAgeRestrictedChannels: refusal.allowedInAgeRestrictedChannels },
      ).replace('Your image', refusal.image === 'image' ? 'Your image' : 'Your end frame');
    case 'moderation-unavailable':
      return 'Images cannot be checked right now, and nothing is accepted unchecked; nothing was queued. Please try again in a few minutes.';
    case 'backend-down':
      return `The video backend is down right now (${refusal.problems.join('; ') || 'no details'}); nothing was queued, please try again later`;
    case 'model-unavailable':
      return `${refusal.text}. Nothing was queued.`;
    case 'unsupported':
      return `${refusal.model} on ${refusal.backend} cannot take ${refusal.what}; nothing was queued. Leave it out, or pick another model.`;
    case 'loop-with-end-frame':
      return 'Loop ends the video on its start image, so it cannot also take an end frame; nothing was queued. Leave out the end frame or loop.';
    case 'bad-link': {
      const problem = refusal.problem.charAt(0).toUpperCase() + refusal.problem.slice(1);
      return `${problem}; nothing was queued.`;
    }
    case 'not-owner':
      return 'Only the person who asked for this video (or a moderator) can cancel it';
    case 'admin-only':
      return refusal.needs === 'bot-owner'
        ? "Only the bot's owners (BOT_OWNER_IDS) can do that."
        : `Only this ${words.server}'s admins (or the bot's owners) can do that.`;
    case 'other-server':
      return `That job belongs to another ${words.server}; only the bot's owners can act on it there.`;
  }
}

/** A refused request; the platform's explain() words `refusal`, the message is the neutral text. */
export class RefusedError extends UserFacingError {
  constructor(readonly refusal: Refusal) {
    super(refusalText(refusal));
    this.name = 'RefusedError';
  }
}
