import { DiscordAPIError, type SendableChannels } from 'discord.js';
import type { JobSnapshot, StatusView } from '../../core/status-text.js';
import type { StatusSink } from '../../service/platform-feed.js';
import type { DiscordContext } from './context.js';
import { statusPayload } from './render.js';
import type { StatusMessageRef } from './store.js';

/** Messages older than an hour get a small edit budget (30046); move to a fresh one before that. */
const MOVE_STATUS_AFTER_MS = 55 * 60 * 1000;

/** Unknown Channel, Missing Access, Missing Permissions: retrying will not help. */
const PERMANENT = new Set([10003, 50001, 50013]);

export const discordErrorCode = (error: unknown) =>
  error instanceof DiscordAPIError ? Number(error.code) : undefined;

export type StatusPayload = ReturnType<typeof statusPayload>['payload'];

/**
 * Sends each job's one status message: draws the view (render.ts) and edits the message with the
 * bot token. What to show and when is the BotStatusTracker's call; this only keeps the message
 * editable: a fresh one before Discord's edit cap on old messages, none once it was deleted.
 */
export class DiscordStatusSink implements StatusSink {
  constructor(private readonly context: DiscordContext) {}

  /**
   * The channel, or undefined when Discord says it is gone or off limits for good. Anything else
   * (a 5xx, a timeout) throws, so the delivery is retried instead of dropped.
   */
  async channel(channelId: string): Promise<SendableChannels | undefined> {
    try {
      const channel = await this.context.client.channels.fetch(channelId);
      return channel?.isSendable() ? channel : undefined;
    } catch (error) {
      if (PERMANENT.has(discordErrorCode(error) ?? 0)) return undefined;
      throw error;
    }
  }

  async show(snapshot: JobSnapshot, view: StatusView): Promise<boolean> {
    const ref = await this.context.messages.status(snapshot.jobId);
    // A render that read the job while it ran must not overwrite the final status.
    if (!ref || ref.gone || ref.finished) return true;
    await this.edit(snapshot.jobId, ref, statusPayload(snapshot, view).payload);
    return true;
  }

  /** Edits the status message; moves to a new one when old or capped, stops when it was deleted. */
  async edit(jobId: string, ref: StatusMessageRef, payload: StatusPayload) {
    const channel = await this.channel(ref.channelId);
    if (!channel) {
      await this.context.messages.setStatus(jobId, { ...ref, gone: true });
      return;
    }
    if (Date.now() - ref.postedAt > MOVE_STATUS_AFTER_MS) return this.move(jobId, ref, channel, payload);
    try {
      await channel.messages.edit(ref.messageId, payload);
    } catch (error) {
      const code = discordErrorCode(error);
      if (code === 30046) return this.move(jobId, ref, channel, payload);
      if (code === 10008 || code === 50001 || code === 50013) {
        this.context.log.info({ jobId, code }, 'status message gone or not editable; no more edits');
        await this.context.messages.setStatus(jobId, { ...ref, gone: true });
        return;
      }
      throw error;
    }
  }

  private async move(
    jobId: string,
    ref: StatusMessageRef,
    channel: SendableChannels,
    payload: StatusPayload,
  ) {
    const fresh = await channel.send(payload);
    await this.context.messages.setStatus(jobId, {
      channelId: ref.channelId,
      messageId: fresh.id,
      postedAt: Date.now(),
      ...(ref.finished ? { finished: true } : {}),
    });
    // Deleting is not an edit, so the old message's edit cap does not stand in the way.
    await channel.messages.delete(ref.messageId).catch(() => undefined);
  }
}
