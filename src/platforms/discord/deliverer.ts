import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import type { Message, SendableChannels } from 'discord.js';
import type { DeliveryJobData } from '../../core/job.js';
import type { JobSnapshot } from '../../core/status-text.js';
import { fitToSize, posterFrame } from '../../media/video.js';
import type { OutcomePoster } from '../shared/delivery.js';
import { type DiscordContext, guildUploadLimit } from './context.js';
import { messageLink, resultButtons, resultContent, statusPayload } from './render.js';
import { type DiscordStatusSink, discordErrorCode } from './status-sink.js';
import type { StatusMessageRef } from './store.js';

const MiB = 1024 * 1024;

/** Discord de-duplicates messages by nonce (at most 25 characters) for a few minutes. */
const deliveryNonce = (jobId: string) => createHash('sha256').update(jobId).digest('hex').slice(0, 25);

interface Where {
  channel: SendableChannels;
  /** The status message, marked finished: from now on only this delivery edits it. */
  ref?: StatusMessageRef;
}

/** Posts outcomes on Discord (the steps are shared, platforms/shared/delivery.ts): the video, fitted to the upload limit. */
export class DiscordDeliverer implements OutcomePoster<Where, string> {
  constructor(
    private readonly context: DiscordContext,
    private readonly sink: DiscordStatusSink,
  ) {}

  async where(delivery: DeliveryJobData): Promise<Where | undefined> {
    const { jobId } = delivery;
    const channelId = String(delivery.reportTo.channelId);
    const channel = await this.sink.channel(channelId);
    if (!channel) {
      this.context.log.warn({ jobId, channelId }, 'cannot reach the channel to deliver; giving up');
      return undefined;
    }
    const ref = await this.context.messages.status(jobId);
    const finished = ref ? { ...ref, finished: true } : undefined;
    if (finished) await this.context.messages.setStatus(jobId, finished);
    return { channel, ref: finished };
  }

  delivered(jobId: string): Promise<string | undefined> {
    return this.context.messages.delivered(jobId);
  }

  async finishStatus(
    delivery: DeliveryJobData,
    snapshot: JobSnapshot,
    { channel, ref }: Where,
    resultId?: string,
  ): Promise<boolean> {
    if (!ref || ref.gone) return false;
    const { payload } = statusPayload(snapshot);
    if (resultId) {
      const link = messageLink(delivery.reportTo.guildId as string | undefined, channel.id, resultId);
      payload.embeds[0]!.description = `${payload.embeds[0]!.description}\nVideo: ${link}`;
    }
    await this.sink.edit(delivery.jobId, ref, payload);
    return true;
  }

  async postOutcome(delivery: DeliveryJobData, snapshot: JobSnapshot, { channel }: Where): Promise<void> {
    const { payload } = statusPayload(snapshot);
    await channel.send({ ...payload, content: `<@${delivery.requester.userId}>` });
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

  async postVideo(delivery: DeliveryJobData, { channel }: Where): Promise<string> {
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
      const parentRef = delivery.parentJobId
        ? await this.context.messages.delivered(delivery.parentJobId)
        : undefined;
      const content = resultContent(delivery.request, {
        requesterId: delivery.requester.userId,
        durationSeconds: result.durationSeconds,
        notes: result.notes,
        ...(result.cost ? { cost: result.cost } : {}),
        parentLink: parentRef
          ? messageLink(delivery.reportTo.guildId as string | undefined, channel.id, parentRef)
          : undefined,
      });
      let message: Message | undefined;
      if (file) {
        try {
          message = await channel.send({
            content,
            files: [{ attachment: file, name }],
            components: resultButtons(delivery.jobId),
            allowedMentions: { users: [delivery.requester.userId] },
            // A retried upload that Discord already took must not post the video twice.
            nonce: deliveryNonce(delivery.jobId),
            enforceNonce: true,
          });
        } catch (error) {
          if (discordErrorCode(error) !== 40005) throw error;
          this.context.log.warn(
            { jobId: delivery.jobId },
            'upload refused as too large (40005); posting a link',
          );
        }
      }
      if (!message) {
        const poster = join(dir, 'poster.jpg');
        await posterFrame(raw, poster);
        const url = await this.context.links.create(result.videoKey, name);
        const size = `${(stored.meta.bytes / MiB).toFixed(1)} MiB`;
        const note = url
          ? `The video (${size}) is over this channel's ${Math.floor(limit / MiB)} MiB upload limit, so here is a link: ${url}`
          : `The video (${size}) is over this channel's ${Math.floor(limit / MiB)} MiB upload limit and could not be shrunk to fit; ask the bot's operator to set PUBLIC_URL so large videos get a link.`;
        message = await channel.send({
          content: `${content}\n${note}`.slice(0, 2000),
          files: [{ attachment: poster, name: `kinema-${delivery.request.seed}-poster.jpg` }],
          components: resultButtons(delivery.jobId),
          allowedMentions: { users: [delivery.requester.userId] },
        });
      }
      await this.context.messages.markDelivered(delivery.jobId, message.id);
      await this.context.messages.linkMessage(message.id, delivery.jobId);
      return message.id;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
