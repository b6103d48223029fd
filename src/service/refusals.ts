import { UserFacingError } from '../core/errors.js';

/**
 * Why a request is not taken, as data. Checks (checks.ts) return these; each platform turns them
 * into words in one function (`discord/refusals.ts`, `slack/refusals.ts`), the way Sapphire's
 * preconditions return an error that one "command denied" listener answers.
 *
 * A new rule (a quota, a paused server, a moderation verdict) adds its variant here with neutral
 * words below, and its check in checks.ts; both platforms then refuse with it.
 */
export type Refusal =
  /** A direct message where the bot works in servers only. */
  | { reason: 'dms-off' }
  | { reason: 'server-not-allowed' }
  | { reason: 'channel-not-allowed'; allowed: readonly string[] }
  | { reason: 'role-not-allowed' }
  /** The bot may not post its status and video there; `missing` names the permissions. */
  | { reason: 'bot-cannot-post'; missing: readonly string[] }
  | { reason: 'over-cap'; running: number; waiting: number; maxRunning: number; maxWaiting: number }
  /** Every worker says its backend is down: a job would only wait. */
  | { reason: 'backend-down'; problems: readonly string[] }
  /** Only the requester or a moderator may cancel a job. */
  | { reason: 'not-owner' };

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** Words for each refusal that every platform can use; a platform words only what differs. */
export function refusalText(refusal: Refusal): string {
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
        `You already have ${plural(refusal.running, 'video')} rendering and ${refusal.waiting} waiting ` +
        `(at most ${refusal.maxRunning} rendering and ${refusal.maxWaiting} waiting per person). ` +
        'Wait for one to finish, or cancel one with ❌.'
      );
    case 'backend-down':
      return `The video backend is down right now (${refusal.problems.join('; ') || 'no details'}); nothing was queued, please try again later`;
    case 'not-owner':
      return 'Only the person who asked for this video (or a moderator) can cancel it';
  }
}

/** A refused request; the platform's explain() words `refusal`, the message is the neutral text. */
export class RefusedError extends UserFacingError {
  constructor(readonly refusal: Refusal) {
    super(refusalText(refusal));
    this.name = 'RefusedError';
  }
}
