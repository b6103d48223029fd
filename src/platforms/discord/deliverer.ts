import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { MessageFlags, type SendableChannels } from 'discord.js';
import type { DeliveryJobData } from '../../core/job.js';
import type { JobSnapshot } from '../../core/status-text.js';
import { fitToSize, posterFrame } from '../../media/video.js';
import type { OutcomePoster } from '../shared/delivery.js';
import { type DiscordContext, guildUploadLimit } from './context.js';
import { postDiscordGroup } from './group-post.js';
import { messageLink, resultButtons, resultContent, statusPayload } from './render.js';
import { type DiscordStatusSink, discordErrorCode, type StatusPayload } from './status-sink.js';
import type { StatusMessageRef } from './store.js';
import { filesOnDisk, StreamedMessages } from './upload.js';

const MiB = 1024 * 1024;

/**
 * A result goes into the status message itself (one edit) while that message is still near the
 * bottom of the channel: at most this many messages came after it. Further up, people would not see
 * it change, so the result is posted at the bottom instead and the old status deleted: one counted
 * operation either way, and the fresh post notifies the requester (an edit never does).
 */
const IN_PLACE_WITHIN = 3;

/** Discord de-duplicates messages by nonce (at most 25 characters) for a few minutes. */
const deliveryNonce = (jobId: string) => createHash('sha256').update(jobId).digest('hex').slice(0, 25);

interface Where {
  channel: SendableChannels;
  /** The status message, marked finished: from now on only this delivery edits it. */
  ref?: StatusMessageRef;
}

/** What the result message carries: the caption, the final status, the file, the Rerun button. */
interface ResultPost {
  payload: StatusPayload;
  fileBytes: number;
}

/**
 * Posts outcomes on Discord (the steps are shared, platforms/shared/delivery.ts). A video becomes
 * part of the job's status message in one counted operation: the status turns into the result
 * (caption, video, "Done", Rerun), edited in place or posted fresh at the bottom (see
 * IN_PLACE_WITHIN). The video is fitted to the upload limit, or linked with a poster frame.
 */
export class DiscordDeliverer implements OutcomePoster<Where, string> {
  /** Files on disk go out streamed (upload.ts), never whole in memory. */
  private readonly streamed: StreamedMessages;

  constructor(
    private readonly context: DiscordContext,
    private readonly sink: DiscordStatusSink,
  ) {
    this.streamed = new StreamedMessages(context.client);
  }

  async where(delivery: DeliveryJobData): Promise<Where | undefined> {
    const { jobId } = delivery;
    const channelId = String(delivery.reportTo.channelId);
    const channel = await this.sink.channel(channelId);
    if (!channel) {
      this.context.log.warn({ jobId, channelId }, 'cannot reach the channel to deliver; giving up');
      return undefined;
    }
    // A fast job's outcome may come while its status post waits for the channel: status first.
    await this.context.sender.statusPosted(channelId, jobId);
    const ref = await this.context.messages.status(jobId);
    const finished = ref ? { ...ref, finished: true } : undefined;
    if (finished) await this.context.messages.setStatus(jobId, finished);
    else await this.context.messages.markUnposted(jobId, channelId);
    return { channel, ref: finished };
  }

  delivered(jobId: string): Promise<string | undefined> {
    return this.context.messages.delivered(jobId);
  }

  async finishStatus(
    delivery: DeliveryJobData,
    snapshot: JobSnapshot,
    { channel }: Where,
    resultId?: string,
  ): Promise<boolean> {
    const ref = await this.context.messages.status(delivery.jobId);
    if (!ref || ref.gone) return false;
    // The result went into the status message itself: already drawn.
    if (resultId && ref.messageId === resultId) return true;
    const { payload } = statusPayload(snapshot);
    if (resultId) {
      const link = messageLink(delivery.reportTo.guildId as string | undefined, channel.id, resultId);
      payload.embeds[0]!.description = `${payload.embeds[0]!.description}\nVideo: ${link}`;
    }
    const result = await this.sink.update(delivery.jobId, channel.id, {
      payload,
      priority: 'urgent',
      final: true,
    });
    return result.shown || result.why !== 'gone';
  }

  async postOutcome(delivery: DeliveryJobData, snapshot: JobSnapshot, { channel }: Where): Promise<void> {
    const { payload } = statusPayload(snapshot);
    await this.post(channel, {
      payload: { ...payload, content: `<@${delivery.requester.userId}>` },
      fileBytes: 0,
    });
  }

  /** Discord has no private follow-up without a live interaction token: a DM. */
  async tellRequester(delivery: DeliveryJobData, text: string): Promise<void> {
    const { userId } = delivery.requester;
    try {
      const user = await this.context.client.users.fetch(userId);
      await user.send({ content: `${text}\n-# Job ${delivery.jobId}`.slice(0, 2000) });
    } catch (error) {
      // DMs closed (50007): the status message already says it was not posted.
      this.context.log.warn({ err: error, jobId: delivery.jobId }, 'could not DM the requester');
    }
  }

  postGroup(lead: DeliveryJobData, videos: DeliveryJobData[], where: Where, snapshot: JobSnapshot) {
    return postDiscordGroup(this.context, (post) => this.place(lead, where, post), lead, videos, snapshot);
  }

  async postVideo(delivery: DeliveryJobData, where: Where): Promise<string> {
    if (delivery.outcome.kind !== 'succeeded') throw new Error('not a success');
    const { result } = delivery.outcome;
    const limit = Number(delivery.reportTo.uploadLimit) || guildUploadLimit(undefined);
    const dir = await mkdtemp(join(tmpdir(), 'kinema-dc-'));
    try {
      const stored = await this.context.service.openResult(result.videoKey);
      if (!stored) throw new Error(`the finished video ${result.videoKey} has expired`);
      const raw = join(dir, 'video.mp4');
      await streamPipeline(stored.stream, createWriteStream(raw));
      let file: string | undefined = raw;
      if (stored.meta.bytes > limit) {
        const fitted = join(dir, 'fitted.mp4');
        file = (await fitToSize(raw, fitted, limit)) ? fitted : undefined;
      }
      const name = `kinema-${delivery.request.seed}.mp4`;
      const content = await this.caption(delivery, where.channel.id);
      const base = this.resultPayload(delivery, content);
      let messageId: string | undefined;
      if (file) {
        try {
          const fileBytes = (await stat(file)).size;
          messageId = await this.place(delivery, where, {
            payload: { ...base, files: [{ attachment: file, name }] },
            fileBytes,
          });
        } catch (error) {
          if (discordErrorCode(error) !== 40005) throw error;
          this.context.log.warn(
            { jobId: delivery.jobId },
            'upload refused as too large (40005); posting a link',
          );
        }
      }
      if (!messageId) {
        const poster = join(dir, 'poster.jpg');
        await posterFrame(raw, poster);
        const url = await this.context.links.create(result.videoKey, name);
        const size = `${(stored.meta.bytes / MiB).toFixed(1)} MiB`;
        const note = url
          ? `The video (${size}) is over this channel's ${Math.floor(limit / MiB)} MiB upload limit, so here is a link: ${url}`
          : `The video (${size}) is over this channel's ${Math.floor(limit / MiB)} MiB upload limit and could not be shrunk to fit; ask the bot's operator to set PUBLIC_URL so large videos get a link.`;
        messageId = await this.place(delivery, where, {
          payload: {
            ...base,
            content: `${content}\n${note}`.slice(0, 2000),
            files: [{ attachment: poster, name: `kinema-${delivery.request.seed}-poster.jpg` }],
          },
          fileBytes: (await stat(poster)).size,
        });
      }
      await this.context.messages.markDelivered(delivery.jobId, messageId);
      await this.context.messages.linkMessage(messageId, delivery.jobId);
      return messageId;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async caption(delivery: DeliveryJobData, channelId: string): Promise<string> {
    if (delivery.outcome.kind !== 'succeeded') throw new Error('not a success');
    const { result } = delivery.outcome;
    const parentRef = delivery.parentJobId
      ? await this.context.messages.delivered(delivery.parentJobId)
      : undefined;
    return resultContent(delivery.request, {
      requesterId: delivery.requester.userId,
      durationSeconds: result.durationSeconds,
      notes: result.notes,
      ...(result.cost ? { cost: result.cost } : {}),
      parentLink: parentRef
        ? messageLink(delivery.reportTo.guildId as string | undefined, channelId, parentRef)
        : undefined,
      parentKind: delivery.parentKind,
    });
  }

  /** The status message as the result: caption, the final status, the Rerun button. */
  private resultPayload(delivery: DeliveryJobData, content: string): StatusPayload {
    const done: JobSnapshot = {
      jobId: delivery.jobId,
      state: 'succeeded',
      request: delivery.request,
      requesterName: delivery.requester.displayName,
    };
    return {
      content,
      embeds: statusPayload(done).payload.embeds,
      components: resultButtons(delivery.jobId),
      allowedMentions: { users: [delivery.requester.userId] },
    };
  }

  /** Into the status message (in place, or fresh at the bottom); a new message when there is none. */
  private async place(delivery: DeliveryJobData, { channel, ref }: Where, post: ResultPost): Promise<string> {
    const { jobId } = delivery;
    if (ref && !ref.gone) {
      const result = await this.sink.update(jobId, channel.id, {
        ...post,
        priority: 'urgent',
        final: true,
        fresh: this.buried(channel, ref.messageId),
        // A retried delivery whose fresh post Discord already took must not post the video twice.
        nonce: deliveryNonce(jobId),
      });
      if (result.shown) return result.messageId;
      if (result.why !== 'gone') throw new Error(`the result could not be posted yet (${result.why})`);
    }
    return this.post(channel, post, deliveryNonce(jobId));
  }

  /** A new message in the channel, in its turn. */
  private async post(channel: SendableChannels, post: ResultPost, nonce?: string): Promise<string> {
    const options = { ...post.payload, ...(nonce ? { nonce, enforceNonce: true } : {}) };
    const files = filesOnDisk(options);
    const send = async (): Promise<{ id: string }> =>
      files ? this.streamed.create(channel, options, files) : channel.send(options);
    const outcome = await this.context.sender.send({
      channelId: channel.id,
      priority: 'urgent',
      run: () => (post.fileBytes ? this.context.memory.use(post.fileBytes, send) : send()),
    });
    if (!outcome.sent) throw new Error(`the message could not be posted (${outcome.reason})`);
    return outcome.value.id;
  }

  /** More than IN_PLACE_WITHIN messages came after the status: people would not see it change. */
  private buried(channel: SendableChannels, messageId: string): boolean {
    const after = channel.messages.cache.filter(
      (message) => BigInt(message.id) > BigInt(messageId) && !message.flags.has(MessageFlags.Ephemeral),
    );
    return after.size > IN_PLACE_WITHIN;
  }
}
