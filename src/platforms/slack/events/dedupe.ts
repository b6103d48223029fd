import type { App } from '@slack/bolt';
import type { SlackContext } from '../context.js';

/**
 * Slack redelivers an event when the answer was slow (X-Slack-Retry-Num over HTTP, `retry_attempt`
 * in Socket Mode), with the same `event_id`: only the first delivery reaches the listeners. The
 * claim is in Redis, so it holds across bot processes and restarts (Slack's last retry comes after
 * about five minutes; the claim lasts an hour).
 */
export function register(app: App, context: SlackContext): void {
  app.use(async ({ body, next, context: bolt }) => {
    const { event_id: eventId, event } = body as {
      event_id?: unknown;
      event?: { type?: string; subtype?: string };
    };
    // Edits, deletions and the like (every chat.update of a status message comes back as
    // message_changed): nothing to act on, not even worth a claim.
    if (event?.type === 'message' && event.subtype !== undefined && event.subtype !== 'file_share') return;
    if (typeof eventId === 'string' && !(await context.messages.claim('event', eventId, 3600))) {
      context.log.debug({ eventId, retryNum: bolt.retryNum }, 'duplicate slack event ignored');
      return;
    }
    await next();
  });
}
