import type { App } from '@slack/bolt';
import { SLACK_IDS, type SlackContext } from '../context.js';
import { tell } from '../intake.js';
import { cancelJob, rerunJob } from '../jobs.js';

/**
 * "Cancel" on a status message, "Rerun (new seed)" on a result (and "Try again" on a failed
 * status). The job id travels in the button's `value`, so buttons keep working after a restart.
 */
const clickTime = (action: object) =>
  String((action as { action_ts?: unknown }).action_ts ?? Date.now() / 1000).replace(/[^\w.-]/g, '');

export function register(app: App, context: SlackContext): void {
  app.action(SLACK_IDS.cancelAction, async ({ ack, action, body }) => {
    await context.acks.ack(() => ack());
    await context.acks.settled();
    if (action.type !== 'button' || body.type !== 'block_actions' || !action.value) return;
    const answer = await cancelJob(context, action.value, body.user.id);
    await tell(
      context,
      { userId: body.user.id, channel: body.channel?.id, responseUrl: body.response_url },
      answer.text,
    );
  });

  app.action(SLACK_IDS.rerunAction, async ({ ack, action, body }) => {
    await context.acks.ack(() => ack());
    await context.acks.settled();
    if (action.type !== 'button' || body.type !== 'block_actions' || !action.value) return;
    const answer = await rerunJob(context, {
      parentJobId: action.value,
      // Every click is its own job id; service.rerun folds a double click into one job.
      jobId: `sl-b-${body.user.id}-${clickTime(action)}`,
      user: { id: body.user.id, ...(body.user.name ? { displayName: body.user.name } : {}) },
    });
    const reply = { userId: body.user.id, channel: body.channel?.id, responseUrl: body.response_url };
    if (!answer.ok) await tell(context, reply, answer.text);
    else if (answer.duplicate) await tell(context, reply, 'Already rerunning that one.');
  });
}
