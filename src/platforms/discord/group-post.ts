import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline as streamPipeline } from 'node:stream/promises';
import type { DeliveryJobData } from '../../core/job.js';
import type { JobSnapshot } from '../../core/status-text.js';
import { fitToSize } from '../../media/video.js';
import { type DiscordContext, guildUploadLimit } from './context.js';
import { groupContent, statusPayload, variantButtons } from './render.js';
import type { StatusPayload } from './status-sink.js';

/** How a group's message is placed: the deliverer's (into the status message, or a new one). */
export type PlaceResult = (post: { payload: StatusPayload; fileBytes: number }) => Promise<string>;

/**
 * A group's videos in one Discord message (up to 10 attachments; a group has at most 4): each
 * fitted to its share of the upload limit, or linked when it cannot be; the group's final status;
 * one row of buttons per video. Every video's job remembers the message (its Rerun's parent link),
 * and the message names the group's lead (🎲 and ❌ on it act on the group).
 */
export async function postDiscordGroup(
  context: DiscordContext,
  place: PlaceResult,
  lead: DeliveryJobData,
  videos: DeliveryJobData[],
  snapshot: JobSnapshot,
): Promise<string> {
  const limit = Number(lead.reportTo.uploadLimit) || guildUploadLimit(undefined);
  const share = Math.floor(limit / Math.max(1, videos.length));
  const dir = await mkdtemp(join(tmpdir(), 'kinema-dc-group-'));
  try {
    const files: { attachment: string; name: string }[] = [];
    const extra: string[] = [];
    const captions = [];
    let fileBytes = 0;
    for (const video of videos) {
      if (video.outcome.kind !== 'succeeded') continue;
      const { result } = video.outcome;
      const index = video.group?.index ?? files.length + 1;
      captions.push({
        index,
        seed: result.seed,
        durationSeconds: result.durationSeconds,
        cost: result.cost,
        notes: result.notes,
      });
      const stored = await context.service.openResult(result.videoKey);
      if (!stored) throw new Error(`the finished video ${result.videoKey} has expired`);
      const raw = join(dir, `${index}.mp4`);
      await streamPipeline(stored.stream, createWriteStream(raw));
      const name = `kinema-${index}-${result.seed}.mp4`;
      let file: string | undefined = raw;
      if (stored.meta.bytes > share) {
        const fitted = join(dir, `${index}-fitted.mp4`);
        file = (await fitToSize(raw, fitted, share)) ? fitted : undefined;
      }
      if (file) {
        files.push({ attachment: file, name });
        fileBytes += (await stat(file)).size;
        continue;
      }
      const url = await context.links.create(result.videoKey, name);
      extra.push(
        url
          ? `#${index}: ${url}`
          : `#${index} is over this channel's upload limit and could not be shrunk to fit.`,
      );
    }
    const content = groupContent(lead.request, captions, { requesterId: lead.requester.userId, extra });
    const payload: StatusPayload = {
      content,
      embeds: statusPayload(snapshot).payload.embeds,
      components: variantButtons(videos.map((video) => video.jobId)),
      allowedMentions: { users: [lead.requester.userId] },
      files,
    };
    const messageId = await place({ payload, fileBytes });
    const groupId = lead.group?.lead ?? lead.jobId;
    for (const video of videos) await context.messages.markDelivered(video.jobId, messageId);
    await context.messages.markDelivered(groupId, messageId);
    await context.messages.linkMessage(messageId, groupId);
    return messageId;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
