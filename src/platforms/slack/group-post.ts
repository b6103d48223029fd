import type { types } from '@slack/bolt';
import type { DeliveryJobData } from '../../core/job.js';
import { costText, truncate } from '../../core/status-text.js';
import type { SendOutcome } from '../shared/send-scheduler.js';
import type { SlackContext } from './context.js';
import { escapeMrkdwn, resultMessage } from './render.js';
import { type SlackDelivered, slackMessageId } from './store.js';
import { uploadStreamed } from './upload.js';

type Block = types.KnownBlock;

/**
 * A group's result message: the prompt once, then for each video its seed and length and its own
 * buttons (those of a single result, labelled by the video's number).
 */
export function groupMessage(
  lead: DeliveryJobData,
  videos: DeliveryJobData[],
): { text: string; blocks: Block[] } {
  const { request, requester } = lead;
  const header = `${escapeMrkdwn(`“${truncate(request.prompt, 600)}”`)}\n${videos.length} variants · for <@${requester.userId}>`;
  const blocks: Block[] = [{ type: 'section', text: { type: 'mrkdwn', text: header } }];
  videos.forEach((video, i) => {
    if (video.outcome.kind !== 'succeeded') return;
    const { result } = video.outcome;
    const number = video.group?.index ?? i + 1;
    const parts = [`#${number}`, `seed ${result.seed}`];
    if (result.durationSeconds) parts.push(`${result.durationSeconds.toFixed(1)} s`);
    if (result.cost) parts.push(costText(result.cost));
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: parts.join(' · ') }] });
    const single = resultMessage(video.jobId, video.request, { requesterId: requester.userId, notes: [] });
    const actions = single.blocks.find((block) => block.type === 'actions');
    if (actions?.type === 'actions') {
      const elements = actions.elements.map((element) =>
        element.type === 'button'
          ? { ...element, text: { ...element.text, text: `#${number} ${element.text.text}` } }
          : element,
      );
      blocks.push({ ...actions, elements });
    }
  });
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: 'React :game_die: to rerun the whole group with new seeds' }],
  });
  return { text: escapeMrkdwn(truncate(`${videos.length} variants: “${request.prompt}”`, 400)), blocks };
}

/**
 * A group's videos as one Slack message: each file uploaded (streamed), then one
 * files.completeUploadExternal shares them all with the group's blocks. Every video's job
 * remembers the share; the message names the group's lead (🎲 on it reruns the group).
 */
export async function postSlackGroup(
  context: SlackContext,
  sent: <T>(outcome: Promise<SendOutcome<T>>) => Promise<T>,
  shareTs: (fileId: string, channel: string) => Promise<string | undefined>,
  lead: DeliveryJobData,
  videos: DeliveryJobData[],
  where: { channel: string; threadTs?: string },
): Promise<SlackDelivered> {
  const client = context.clients.delivery;
  const files: { id: string; title: string }[] = [];
  for (const video of videos) {
    if (video.outcome.kind !== 'succeeded') continue;
    const { result } = video.outcome;
    const stored = await context.service.openResult(result.videoKey);
    if (!stored) throw new Error(`the finished video ${result.videoKey} has expired`);
    const number = video.group?.index ?? files.length + 1;
    const id = await uploadStreamed(client, {
      stream: stored.stream,
      bytes: stored.meta.bytes,
      filename: `kinema-${number}-${result.seed}.mp4`,
      altText: `Video ${number}: ${video.request.prompt}`.slice(0, 1000),
    });
    files.push({ id, title: `Kinema #${number} · seed ${result.seed}` });
  }
  const message = groupMessage(lead, videos);
  const { channel, threadTs } = where;
  await sent(
    context.sender.post(channel, {
      priority: 'urgent',
      run: () =>
        client.files.completeUploadExternal({
          files: files as [{ id: string; title: string }],
          channel_id: channel,
          ...(threadTs ? { thread_ts: threadTs } : {}),
          blocks: message.blocks,
        }),
    }),
  );
  const delivered: SlackDelivered = {
    fileId: files[0]?.id ?? '',
    ts: await shareTs(files[0]?.id ?? '', channel),
  };
  const groupId = lead.group?.lead ?? lead.jobId;
  for (const video of videos) await context.messages.markDelivered(video.jobId, delivered);
  await context.messages.markDelivered(groupId, delivered);
  if (delivered.ts) await context.messages.linkMessage(slackMessageId(channel, delivered.ts), groupId);
  return delivered;
}
