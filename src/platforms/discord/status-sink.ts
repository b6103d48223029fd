import type { Client } from 'discord.js';
import {
  type APIEmbed,
  type BaseMessageOptions,
  DiscordAPIError,
  type MessageCreateOptions,
  type SendableChannels,
} from 'discord.js';
import type { JobSnapshot, StatusView } from '../../core/status-text.js';
import type { Logger } from '../../log.js';
import type { StatusSink } from '../../service/platform-feed.js';
import type { MemoryBudget } from '../shared/memory-budget.js';
import type { SendPriority } from '../shared/send-scheduler.js';
import { statusPayload } from './render.js';
import type { ReplyTokens } from './reply-tokens.js';
import type { DiscordSender } from './sender.js';
import type { DiscordMessages, StatusMessageRef } from './store.js';
import { filesOnDisk, StreamedMessages } from './upload.js';

/** Messages older than an hour get a small edit budget (30046); move to a fresh one before that. */
const MOVE_STATUS_AFTER_MS = 55 * 60 * 1000;

/** Unknown Channel, Missing Access, Missing Permissions: retrying will not help. */
const PERMANENT = new Set([10003, 50001, 50013]);
/** The message is gone or may not be edited: no more edits. */
const NOT_EDITABLE = new Set([10008, 50001, 50013]);
/** The interaction token is dead (expired, 50027; or unknown): the bot token takes over. */
const TOKEN_DEAD = new Set([50027, 10015]);

export const discordErrorCode = (error: unknown) =>
  error instanceof DiscordAPIError ? Number(error.code) : undefined;

export type StatusPayload = Omit<BaseMessageOptions, 'embeds'> & {
  embeds: APIEmbed[];
  content?: string;
};

/** One new state of a job's status message. */
export interface StatusUpdate {
  payload: StatusPayload;
  priority: SendPriority;
  /** The delivery's own edits: they apply to a status already marked finished. */
  final?: boolean;
  /** Post it as a fresh message at the bottom of the channel and delete the old one (one counted operation). */
  fresh?: boolean;
  /** Bytes of the files in the payload: held against UPLOAD_MEMORY_MB while it is sent. */
  fileBytes?: number;
  /** For a fresh post: Discord drops a repeat with the same nonce (a retried delivery). */
  nonce?: string;
}

export type UpdateResult =
  | { shown: true; messageId: string }
  | { shown: false; why: 'gone' | 'finished' | 'superseded' | 'skipped' | 'closed' };

/**
 * Sends each job's one status message through the per-channel scheduler: draws the view
 * (render.ts) and edits the message, through the interaction's token while it lives and with the
 * bot token after. What to show and when is the BotStatusTracker's call; this keeps the message
 * editable: a fresh one before Discord's edit cap on old messages (or on 30046), none once it was
 * deleted.
 */
/** The part of the Discord context a sink uses (the context itself holds the sink). */
export interface StatusSinkDeps {
  client: Client;
  log: Logger;
  messages: DiscordMessages;
  sender: DiscordSender;
  replies: ReplyTokens;
  memory: MemoryBudget;
}

export class DiscordStatusSink implements StatusSink {
  /** A result's video (a file on disk) goes out streamed, never whole in memory. */
  private readonly streamed: StreamedMessages;

  constructor(private readonly context: StatusSinkDeps) {
    this.streamed = new StreamedMessages(context.client);
  }

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
    // A waiting job's new place in line is the first thing to skip in a busy channel.
    const priority = snapshot.state === 'waiting' ? 'position' : 'progress';
    const ticket = this.schedule(snapshot.jobId, ref.channelId, {
      payload: statusPayload(snapshot, view).payload,
      priority,
    });
    ticket.result.catch((error) =>
      this.context.log.warn({ err: error, jobId: snapshot.jobId }, 'could not update the status message'),
    );
    return ticket.accepted;
  }

  /** Queues a new state of the status message in its channel; the latest waiting state wins. */
  update(jobId: string, channelId: string, update: StatusUpdate): Promise<UpdateResult> {
    return this.schedule(jobId, channelId, update).result;
  }

  private schedule(
    jobId: string,
    channelId: string,
    update: StatusUpdate,
    retry = false,
  ): { accepted: boolean; result: Promise<UpdateResult> } {
    const ticket = this.context.sender.schedule({
      channelId,
      priority: update.priority,
      key: `status:${jobId}`,
      yieldToNewer: retry,
      run: () => this.apply(jobId, update),
    });
    const result = ticket.outcome.then((outcome): Promise<UpdateResult> | UpdateResult => {
      if (!outcome.sent) return { shown: false, why: outcome.reason };
      // Refused as an old message's edit (30046): the same state goes to a fresh message, in turn.
      if (outcome.value === 'move')
        return this.schedule(jobId, channelId, { ...update, fresh: true }, true).result;
      return outcome.value;
    });
    return { accepted: ticket.accepted, result };
  }

  /** One counted operation: the edit, or the fresh post that replaces the message. */
  private async apply(jobId: string, update: StatusUpdate): Promise<UpdateResult | 'move'> {
    const ref = await this.context.messages.status(jobId);
    if (!ref || ref.gone) return { shown: false, why: 'gone' };
    if (ref.finished && !update.final) return { shown: false, why: 'finished' };
    const channel = await this.channel(ref.channelId);
    if (!channel) {
      await this.context.messages.setStatus(jobId, { ...ref, gone: true });
      return { shown: false, why: 'gone' };
    }
    const send = <T>(work: () => Promise<T>) =>
      update.fileBytes ? this.context.memory.use(update.fileBytes, work) : work();
    if (update.fresh || Date.now() - ref.postedAt > MOVE_STATUS_AFTER_MS) {
      return send(() => this.move(jobId, ref, channel, update));
    }
    try {
      await send(() => this.edit(jobId, ref, channel, update.payload));
      return { shown: true, messageId: ref.messageId };
    } catch (error) {
      const code = discordErrorCode(error);
      if (code === 30046) return 'move';
      if (code !== undefined && NOT_EDITABLE.has(code)) {
        this.context.log.info({ jobId, code }, 'status message gone or not editable; no more edits');
        this.context.replies.drop(jobId);
        await this.context.messages.setStatus(jobId, { ...ref, gone: true });
        return { shown: false, why: 'gone' };
      }
      throw error;
    }
  }

  /**
   * Through the interaction's token while it lives (its own rate limits), else the bot token. A
   * refused request created or edited nothing, so the bot token's retry is still one operation.
   */
  private async edit(
    jobId: string,
    ref: StatusMessageRef,
    channel: SendableChannels,
    payload: StatusPayload,
  ) {
    const files = filesOnDisk(payload);
    const webhook = this.context.replies.get(jobId);
    if (webhook) {
      try {
        if (files) await this.streamed.editReply(webhook, payload, files);
        else await webhook.editMessage('@original', payload);
        return;
      } catch (error) {
        const code = discordErrorCode(error) ?? 0;
        if (TOKEN_DEAD.has(code)) this.context.replies.drop(jobId);
        // The interaction's attachment_size_limit may be below the bot's own (the guild tier, D5).
        else if (code !== 40005) throw error;
      }
    }
    if (files) await this.streamed.edit(channel, ref.messageId, payload, files);
    else await channel.messages.edit(ref.messageId, payload);
  }

  /** A fresh message at the bottom; deleting the old one is no edit, so no edit cap stands in the way. */
  private async move(
    jobId: string,
    ref: StatusMessageRef,
    channel: SendableChannels,
    update: StatusUpdate,
  ): Promise<UpdateResult> {
    const options: MessageCreateOptions = {
      ...(update.payload as MessageCreateOptions),
      ...(update.nonce ? { nonce: update.nonce, enforceNonce: true } : {}),
    };
    const files = filesOnDisk(options);
    const fresh = files ? await this.streamed.create(channel, options, files) : await channel.send(options);
    this.context.replies.drop(jobId);
    await this.context.messages.setStatus(jobId, {
      channelId: ref.channelId,
      messageId: fresh.id,
      postedAt: Date.now(),
      ...(ref.finished ? { finished: true } : {}),
    });
    await channel.messages.delete(ref.messageId).catch(() => undefined);
    return { shown: true, messageId: fresh.id };
  }
}
