import type { App } from '@slack/bolt';
import { CANCEL_REACTIONS, RERUN_REACTIONS, type SlackContext } from '../context.js';
import { tell } from '../intake.js';
import { cancelJob, rerunJob } from '../jobs.js';
import { slackMessageId } from '../store.js';

/**
 * :game_die: or :repeat: on a status or result message reruns with a new seed; :x: cancels. The
 * message's ts finds the job in Redis. Reactions have no ephemeral reply, so answers are ephemeral
 * messages in the channel.
 */
export function register(app: App, context: SlackContext): void {
  app.event('reaction_added', async ({ event, body }) => {
    if (event.item.type !== 'message') return;
    if (event.item_user && event.item_user !== context.identity.botUserId) return;
    if (event.user === context.identity.botUserId) return;
    await context.acks.settled();
    const name = event.reaction.split('::')[0] ?? '';
    const rerun = RERUN_REACTIONS.has(name);
    if (!rerun && !CANCEL_REACTIONS.has(name)) return;
    const jobId = await context.messages.jobOfMessage(slackMessageId(event.item.channel, event.item.ts));
    if (!jobId) return;
    const reply = { userId: event.user, channel: event.item.channel };
    if (!rerun) {
      const answer = await cancelJob(context, jobId, event.user);
      await tell(context, reply, answer.text);
      return;
    }
    const answer = await rerunJob(context, {
      parentJobId: jobId,
      jobId: `sl-${body.event_id}`,
      user: { id: event.user },
      wholeGroup: true,
    });
    if (!answer.ok) await tell(context, reply, answer.text);
  });
}
