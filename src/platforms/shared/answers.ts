import { UserFacingError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import { type Refusal, RefusedError } from '../../service/refusals.js';

export const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** Settings errors as one message; `max` is what the platform's message may hold. */
export function fixList(errors: string[], max: number): string {
  return `Please fix:\n${errors.map((error) => `• ${error}`).join('\n')}`.slice(0, max);
}

/**
 * What to tell a person about a failed request: a refusal in the platform's words, a user-facing
 * error as is, anything else logged and summarised, never with internals.
 */
export function explain(error: unknown, log: Logger, wordRefusal: (refusal: Refusal) => string): string {
  if (error instanceof RefusedError) return wordRefusal(error.refusal);
  if (error instanceof UserFacingError) return capitalise(error.message);
  log.error({ err: error }, 'request failed');
  return 'Something went wrong on our side and nothing was queued. Please try again in a minute.';
}
