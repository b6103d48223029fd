import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { DiscordAPIError, type Message, type SendableChannels } from 'discord.js';
import type { DeliveryJobData } from '../../core/job.js';
import { type JobSnapshot, outcomeSnapshot, statusFingerprint } from '../../core/status-text.js';
import { fitToSize, posterFrame } from '../../media/video.js';
import type { StatusSink } from '../../queue/status-tracker.js';
import type { PublicLinks } from '../../service/public-links.js';
import type { DiscordContext } from './context.js';
import { guildUploadLimit } from './context.js';
import { messageLink, resultButtons, resultContent, statusPayload } from './render.js';
import type { StatusMessageRef } from './store.js';

/** Messages older than an hour get a small edit budget (30046); move to a fresh one before that. */
const MOVE_STATUS_AFTER_MS = 55 * 60 * 1000;
const MiB = 1024 * 1024;

/** Unknown Channel, Missing Access, Missing Permissions: retrying will not help. */
const PERMANENT = new Set([10003, 50001, 50013]);

/** Discord de-duplicates messages by nonce (at most 25 characters) for a few minutes. */
const deliveryNonce = (jobId: string) => createHash('sha256').update(jobId).digest('hex').slice(0, 25);

const codeOf = (error: unknown) => (error instanceof DiscordAPIError ? Number(error.code) : undefined);

/** Keeps each job's one status message current; edits are coalesced by the StatusTracker. */
export class DiscordStatusSink implements StatusSink {
  private readonly shown = new Map<string, string>();

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
      if (PERMANENT.has(codeOf(error) ?? 0)) return undefined;
      throw error;
    }
  }

  async show(snapshot: JobSnapshot): Promise<void> {
    const ref = await this.context.messages.status(snapshot.jobId);
    // A render that read the job while it ran must not overwrite the final status.
    if (!ref || ref.gone || ref.finished) return;
    const { view, payload } = statusPayload(snapshot);
    const fingerprint = statusFingerprint(view);
    if (this.shown.get(snapshot.jobId) === fingerprint) return;
    await this.edit(snapshot.jobId, ref, payload);
    this.shown.set(snapshot.jobId, fingerprint);
    if (view.finished) this.shown.delete(snapshot.jobId);
  }

  /** Edits the status message; moves to a new one when old or capped, stops when it was deleted. */
  async edit(jobId: string, ref: StatusMessageRef, payload: ReturnType<typeof statusPayload>['payload']) {
    const channel = await this.channel(ref.channelId);
    if (!channel) {
      await this.context.messages.setStatus(jobId, { ...ref, gone: true });
      return;
    }
    if (Date.now() - ref.postedAt > MOVE_STATUS_AFTER_MS) return this.move(jobId, ref, channel, payload);
    try {
      await channel.messages.edit(ref.messageId, payload);
    } catch (error) {
      const code = codeOf(error);
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
    payload: ReturnType<typeof statusPayload>['payload'],
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

/** Posts outcomes: the video (fitted to the upload limit), or why there is none. */
export class DiscordDeliverer {
  constructor(
    private readonly context: DiscordContext,
    private readonly sink: DiscordStatusSink,
    private readonly links: PublicLinks,
  ) {}

  async deliver(delivery: DeliveryJobData): Promise<void> {
    const { jobId, outcome } = delivery;
    const ref = await this.context.messages.status(jobId);
    const channelId = String(delivery.reportTo.channelId);
    const channel = await this.sink.channel(channelId);
    if (!channel) {
      this.context.log.warn({ jobId, channelId }, 'cannot reach the channel to deliver; giving up');
      await this.context.tracker.untrack(jobId);
      return;
    }
    const snapshot = outcomeSnapshot(delivery);
    const finalRef = ref ? { ...ref, finished: true } : undefined;
    if (finalRef) await this.context.messages.setStatus(jobId, finalRef);
    if (outcome.kind === 'succeeded') {
      const resultId =
        (await this.context.messages.delivered(jobId)) ?? (await this.postVideo(delivery, channel));
      const { payload } = statusPayload(snapshot);
      const link = messageLink(delivery.reportTo.guildId as string | undefined, channelId, resultId);
      payload.embeds[0]!.description = `${payload.embeds[0]!.description}\nVideo: ${link}`;
      if (finalRef && !finalRef.gone) await this.sink.edit(jobId, finalRef, payload).catch(() => undefined);
    } else {
      const { payload } = statusPayload(snapshot);
      if (finalRef && !finalRef.gone) await this.sink.edit(jobId, finalRef, payload);
      else await channel.send({ ...payload, content: `<@${delivery.requester.userId}>` });
    }
    await this.context.tracker.untrack(jobId);
  }

  private async postVideo(delivery: DeliveryJobData, channel: SendableChannels): Promise<string> {
    if (delivery.outcome.kind !== 'succeeded') throw new Error('not a success');
    const { result } = delivery.outcome;
    const limit = Number(delivery.reportTo.uploadLimit) || guildUploadLimit(undefined);
    const dir = await mkdtemp(join(tmpdir(), 'kinema-dc-'));
    try {
      const stored = await this.context.service.pipeline.blobs.open(result.videoKey);
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
          if (codeOf(error) !== 40005) throw error;
          this.context.log.warn(
            { jobId: delivery.jobId },
            'upload refused as too large (40005); posting a link',
          );
        }
      }
      if (!message) {
        const poster = join(dir, 'poster.jpg');
        await posterFrame(raw, poster);
        const url = await this.links.create(result.videoKey, name);
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
