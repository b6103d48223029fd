import { webApi } from '@slack/bolt';
import type { JobSnapshot, StatusView } from '../../core/status-text.js';
import type { StatusSink } from '../../service/platform-feed.js';
import { RateLimitedError } from '../shared/send-scheduler.js';
import type { SlackContext } from './context.js';
import { type StatusMessage, statusMessage } from './render.js';
import type { SlackStatusRef } from './store.js';

/** Errors after which a message will never be editable again. */
const GONE = new Set([
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'channel_not_found',
  'is_archived',
  'not_in_channel',
]);

export const slackErrorCode = (error: unknown): string | undefined =>
  (error as { data?: { error?: unknown } } | undefined)?.data?.error as string | undefined;

/**
 * Sends each job's one status message with chat.update, through the workspace's edit budget (the
 * send scheduler, sender.ts): progress edits on the `progress` client, the final edit on the
 * `delivery` one. What to show and when is the BotStatusTracker's call; this draws the blocks
 * (render.ts) and never lets a late progress edit overwrite the final state (one edit of a message
 * at a time, the final one last).
 */
export class SlackStatusSink implements StatusSink {
  constructor(private readonly context: SlackContext) {}

  async show(snapshot: JobSnapshot, view: StatusView): Promise<boolean> {
    const { jobId } = snapshot;
    const ref = await this.context.messages.status(jobId);
    if (!ref || ref.gone || ref.finished) return true;
    const ticket = this.context.sender.update({
      // A waiting job's new place in line is the first thing to skip when edits are scarce.
      priority: snapshot.state === 'waiting' ? 'position' : 'progress',
      key: `status:${jobId}`,
      run: () => this.progress(jobId, snapshot, view),
    });
    ticket.outcome.catch((error) =>
      this.context.log.warn({ err: error, jobId }, 'could not update the status message'),
    );
    return ticket.accepted;
  }

  /** One progress edit, unless the job finished while it waited. */
  private async progress(jobId: string, snapshot: JobSnapshot, view: StatusView): Promise<void> {
    const ref = await this.context.messages.status(jobId);
    if (!ref || ref.gone || ref.finished) return;
    try {
      await this.update('progress', ref, statusMessage(snapshot, { requesterId: ref.requesterId }, view));
    } catch (error) {
      if ((error as { code?: unknown }).code === webApi.ErrorCode.RateLimitedError) {
        const seconds = (error as { retryAfter?: unknown }).retryAfter;
        this.context.log.info(
          { jobId, retryAfterSeconds: seconds },
          'slack rate-limited progress edits; pausing them',
        );
        // Progress edits wait it out; the final edits (another client) still try.
        throw new RateLimitedError((typeof seconds === 'number' ? seconds : 30) * 1000, 'progress');
      }
      if (!(await this.gone(jobId, ref, error))) throw error;
    }
  }

  private async update(client: 'progress' | 'delivery', ref: SlackStatusRef, message: StatusMessage) {
    await this.context.clients[client].chat.update({
      channel: ref.channel,
      ts: ref.ts,
      text: message.text,
      blocks: message.blocks,
    });
  }

  /** True when the error says the message can never be edited again (it is then marked so). */
  private async gone(jobId: string, ref: SlackStatusRef, error: unknown): Promise<boolean> {
    const code = slackErrorCode(error);
    if (!code || !GONE.has(code)) return false;
    this.context.log.info({ jobId, code }, 'status message gone or not editable; no more edits');
    await this.context.messages.setStatus(jobId, { ...ref, gone: true });
    return true;
  }

  /** The final edit (done, failed, cancelled), on the delivery client; later progress renders are ignored. */
  async finish(jobId: string, snapshot: JobSnapshot, extra: string[] = []): Promise<boolean> {
    const ref = await this.context.messages.status(jobId);
    if (!ref || ref.gone) return false;
    await this.context.messages.setStatus(jobId, { ...ref, finished: true });
    const outcome = await this.context.sender.update({
      priority: 'urgent',
      key: `status:${jobId}`,
      run: async () => {
        try {
          await this.update(
            'delivery',
            ref,
            statusMessage(snapshot, { requesterId: ref.requesterId, extra }),
          );
          return true;
        } catch (error) {
          if (await this.gone(jobId, { ...ref, finished: true }, error)) return false;
          throw error;
        }
      },
    }).outcome;
    if (!outcome.sent) throw new Error(`the final status could not be shown (${outcome.reason})`);
    return outcome.value;
  }
}
