import { webApi } from '@slack/bolt';
import type { JobSnapshot, StatusView } from '../../core/status-text.js';
import type { StatusSink } from '../../service/platform-feed.js';
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
 * Edits per minute for one workspace. chat.update is Tier 3 (50+ per minute per method per
 * workspace, S3): progress edits of every job share a budget below that, and a 429 pauses them all.
 */
export class EditBudget {
  private readonly stamps: number[] = [];
  private pausedUntil = 0;

  constructor(private readonly perMinute: number) {}

  take(now = Date.now()): boolean {
    if (now < this.pausedUntil) return false;
    while (this.stamps.length > 0 && now - this.stamps[0]! >= 60_000) this.stamps.shift();
    if (this.stamps.length >= this.perMinute) return false;
    this.stamps.push(now);
    return true;
  }

  pause(ms: number, now = Date.now()): void {
    this.pausedUntil = Math.max(this.pausedUntil, now + ms);
  }
}

/**
 * Sends each job's one status message with chat.update on the `progress` client. What to show and
 * when is the BotStatusTracker's call; this draws the blocks (render.ts), keeps within the
 * workspace budget, and never lets a late progress edit overwrite the final state.
 */
export class SlackStatusSink implements StatusSink {
  private readonly chains = new Map<string, Promise<unknown>>();
  readonly budget: EditBudget;

  constructor(
    private readonly context: SlackContext,
    editsPerMinute: number,
  ) {
    this.budget = new EditBudget(editsPerMinute);
  }

  /** Runs edits of one job one after another, so the final edit is always the last one. */
  exclusive<T>(jobId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(jobId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.chains.set(jobId, settled);
    void settled.then(() => {
      if (this.chains.get(jobId) === settled) this.chains.delete(jobId);
    });
    return next;
  }

  show(snapshot: JobSnapshot, view: StatusView): Promise<boolean> {
    return this.exclusive(snapshot.jobId, async () => {
      const ref = await this.context.messages.status(snapshot.jobId);
      if (!ref || ref.gone || ref.finished) return true;
      if (!this.budget.take()) {
        this.context.log.debug(
          { jobId: snapshot.jobId },
          'slack edit budget spent; skipping a progress edit',
        );
        return false;
      }
      try {
        await this.update('progress', ref, statusMessage(snapshot, { requesterId: ref.requesterId }, view));
        return true;
      } catch (error) {
        const handled = await this.handleEditError(snapshot.jobId, ref, error);
        if (handled === 'unhandled') throw error;
        return handled === 'gone';
      }
    });
  }

  private async update(client: 'progress' | 'delivery', ref: SlackStatusRef, message: StatusMessage) {
    await this.context.clients[client].chat.update({
      channel: ref.channel,
      ts: ref.ts,
      text: message.text,
      blocks: message.blocks,
    });
  }

  /** What an edit error means: paused (rate-limited, try later), gone (no more edits), or unhandled. */
  private async handleEditError(
    jobId: string,
    ref: SlackStatusRef,
    error: unknown,
  ): Promise<'paused' | 'gone' | 'unhandled'> {
    const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
    if ((error as { code?: unknown }).code === webApi.ErrorCode.RateLimitedError) {
      const seconds = typeof retryAfter === 'number' ? retryAfter : 30;
      this.budget.pause(seconds * 1000);
      this.context.log.info(
        { jobId, retryAfterSeconds: seconds },
        'slack rate-limited progress edits; pausing them',
      );
      return 'paused';
    }
    const code = slackErrorCode(error);
    if (code && GONE.has(code)) {
      this.context.log.info({ jobId, code }, 'status message gone or not editable; no more edits');
      await this.context.messages.setStatus(jobId, { ...ref, gone: true });
      return 'gone';
    }
    return 'unhandled';
  }

  /** The final edit (done, failed, cancelled), on the delivery client; later progress renders are ignored. */
  async finish(jobId: string, snapshot: JobSnapshot, extra: string[] = []): Promise<boolean> {
    return this.exclusive(jobId, async () => {
      const ref = await this.context.messages.status(jobId);
      if (!ref || ref.gone) return false;
      await this.context.messages.setStatus(jobId, { ...ref, finished: true });
      try {
        await this.update('delivery', ref, statusMessage(snapshot, { requesterId: ref.requesterId, extra }));
      } catch (error) {
        const code = slackErrorCode(error);
        if (code && GONE.has(code)) {
          await this.context.messages.setStatus(jobId, { ...ref, finished: true, gone: true });
          return false;
        }
        throw error;
      }
      return true;
    });
  }
}
