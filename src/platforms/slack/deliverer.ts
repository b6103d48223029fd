import type { DeliveryJobData } from '../../core/job.js';
import type { JobSnapshot } from '../../core/status-text.js';
import type { OutcomePoster } from '../shared/delivery.js';
import type { SendOutcome } from '../shared/send-scheduler.js';
import type { SlackContext } from './context.js';
import { postSlackGroup } from './group-post.js';
import { tell } from './intake.js';
import { escapeMrkdwn, rerunButton, resultMessage, statusMessage } from './render.js';
import { type SlackStatusSink, slackErrorCode } from './status-sink.js';
import { type SlackDelivered, type SlackStatusRef, slackMessageId } from './store.js';
import { uploadStreamed } from './upload.js';

const MiB = 1024 * 1024;
/** Slack's per-file upload limit (platform notes S4; unconfirmed officially, 1 GB). */
const SLACK_MAX_UPLOAD = 1000 * MiB;

interface Where {
  channel: string;
  threadTs?: string;
  ref?: SlackStatusRef;
}

/** Posts outcomes on Slack (the steps are shared, platforms/shared/delivery.ts): the mp4 with the external upload flow. */
export class SlackDeliverer implements OutcomePoster<Where, SlackDelivered> {
  constructor(
    private readonly context: SlackContext,
    private readonly sink: SlackStatusSink,
  ) {}

  async where(delivery: DeliveryJobData): Promise<Where | undefined> {
    // A fast job's outcome may come while its status post waits for the channel: status first.
    const reported = String(delivery.reportTo.channel ?? '');
    if (reported) await this.context.sender.statusPosted(reported, delivery.jobId);
    const ref = await this.context.messages.status(delivery.jobId);
    const channel = String(delivery.reportTo.channel ?? ref?.channel ?? '');
    const threadTs = (delivery.reportTo.threadTs as string | undefined) ?? ref?.threadTs;
    if (!channel || ref?.unreachable) return undefined;
    if (!ref) {
      // The outcome came before the status message: a status post still waiting is skipped.
      await this.context.messages.setStatusIfAbsent(delivery.jobId, {
        channel,
        ts: `unposted-${delivery.jobId}`,
        requesterId: delivery.requester.userId,
        postedAt: Date.now(),
        gone: true,
        finished: true,
      });
    }
    return { channel, ...(threadTs ? { threadTs } : {}), ...(ref ? { ref } : {}) };
  }

  delivered(jobId: string): Promise<SlackDelivered | undefined> {
    return this.context.messages.delivered(jobId);
  }

  finishStatus(
    delivery: DeliveryJobData,
    snapshot: JobSnapshot,
    { ref }: Where,
    posted?: SlackDelivered,
  ): Promise<boolean> {
    const where = ref?.threadTs ? 'in this thread' : 'below';
    return this.sink.finish(delivery.jobId, snapshot, posted?.fileId ? [`The video is ${where}.`] : []);
  }

  async postOutcome(delivery: DeliveryJobData, snapshot: JobSnapshot, { channel, threadTs }: Where) {
    const message = statusMessage(snapshot, { requesterId: delivery.requester.userId });
    await this.sent(
      this.context.sender.post(channel, {
        priority: 'urgent',
        run: () =>
          this.context.clients.delivery.chat.postMessage({
            channel,
            ...(threadTs ? { thread_ts: threadTs } : {}),
            text: `<@${delivery.requester.userId}> ${message.text}`,
            blocks: message.blocks,
          }),
      }),
    );
  }

  /** The value of a send that must happen; a bot shutting down leaves the delivery to be retried. */
  private async sent<T>(outcome: Promise<SendOutcome<T>>): Promise<T> {
    const done = await outcome;
    if (!done.sent) throw new Error(`not posted (${done.reason})`);
    return done.value;
  }

  /** Only the requester sees it: an ephemeral message where they asked (a DM when that fails). */
  async tellRequester(delivery: DeliveryJobData, text: string, { channel, threadTs }: Where): Promise<void> {
    const target = { userId: delivery.requester.userId, channel, ...(threadTs ? { threadTs } : {}) };
    await tell(this.context, target, `${escapeMrkdwn(text)} (job \`${delivery.jobId}\`)`);
  }

  postGroup(lead: DeliveryJobData, videos: DeliveryJobData[], where: Where): Promise<SlackDelivered> {
    const sent = <T>(outcome: Promise<SendOutcome<T>>) => this.sent(outcome);
    const shareTs = (fileId: string, channel: string) => this.shareTs(fileId, channel);
    return postSlackGroup(this.context, sent, shareTs, lead, videos, where);
  }

  async postVideo(delivery: DeliveryJobData, { channel, threadTs }: Where): Promise<SlackDelivered> {
    if (delivery.outcome.kind !== 'succeeded') throw new Error('not a success');
    const { result } = delivery.outcome;
    const stored = await this.context.service.openResult(result.videoKey);
    if (!stored) throw new Error(`the finished video ${result.videoKey} has expired`);
    const filename = `kinema-${delivery.request.seed}.mp4`;
    const message = resultMessage(delivery.jobId, delivery.request, {
      requesterId: delivery.requester.userId,
      durationSeconds: result.durationSeconds,
      parentJobId: delivery.parentJobId,
      parentKind: delivery.parentKind,
      notes: result.notes,
      ...(result.cost ? { cost: result.cost } : {}),
    });
    const client = this.context.clients.delivery;
    let delivered: SlackDelivered | undefined;
    let refused: string | undefined;
    if (stored.meta.bytes <= SLACK_MAX_UPLOAD) {
      try {
        // The external upload flow, the bytes streamed from storage (upload.ts), then the share.
        const fileId = await uploadStreamed(client, {
          stream: stored.stream,
          bytes: stored.meta.bytes,
          filename,
          altText: `Video: ${delivery.request.prompt}`.slice(0, 1000),
        });
        await this.sent(
          this.context.sender.post(channel, {
            priority: 'urgent',
            run: () =>
              client.files.completeUploadExternal({
                files: [{ id: fileId, title: `Kinema · seed ${delivery.request.seed}` }],
                channel_id: channel,
                ...(threadTs ? { thread_ts: threadTs } : {}),
                blocks: message.blocks,
              }),
          }),
        );
        delivered = { fileId, ts: await this.shareTs(fileId, channel) };
      } catch (error) {
        const code = slackErrorCode(error);
        if (code !== 'file_upload_size_restricted' && code !== 'not_in_channel') throw error;
        refused = code;
        this.context.log.warn(
          { jobId: delivery.jobId, code },
          'slack refused the upload; posting a link instead',
        );
      }
    } else {
      stored.stream.destroy();
    }
    if (!delivered) {
      const url = await this.context.links.create(result.videoKey, filename);
      const size = `${(stored.meta.bytes / MiB).toFixed(1)} MiB`;
      const why =
        refused === 'not_in_channel'
          ? 'I cannot upload files in this channel because I am not a member of it (invite me with /invite @Kinema)'
          : `The video (${size}) is too large to upload here`;
      const note = url
        ? `${why}, so here is a link: ${url}`
        : `${why}; ask the bot's operator to set PUBLIC_URL so such videos get a link.`;
      const posted = await this.sent(
        this.context.sender.post(channel, {
          priority: 'urgent',
          run: () =>
            client.chat.postMessage({
              channel,
              ...(threadTs ? { thread_ts: threadTs } : {}),
              text: `${message.text}\n${escapeMrkdwn(note)}`,
              blocks: [
                ...message.blocks.slice(0, -1),
                { type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(note) } },
                { type: 'actions', elements: [rerunButton(delivery.jobId)] },
              ],
            }),
        }),
      );
      delivered = { fileId: '', ts: posted.ts };
    }
    await this.context.messages.markDelivered(delivery.jobId, delivered);
    if (delivered.ts)
      await this.context.messages.linkMessage(slackMessageId(channel, delivered.ts), delivery.jobId);
    return delivered;
  }

  /**
   * The ts of the message that shares an uploaded file, so reactions on it find the job. Slack
   * processes uploads asynchronously: files.info may need a moment to list the share.
   */
  private async shareTs(fileId: string, channel: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < 6; attempt++) {
      const info = await this.context.clients.delivery.files.info({ file: fileId }).catch(() => undefined);
      const shares = info?.file?.shares as
        | Record<string, Record<string, Array<{ ts?: string }>> | undefined>
        | undefined;
      const ts = shares?.public?.[channel]?.[0]?.ts ?? shares?.private?.[channel]?.[0]?.ts;
      if (ts) return ts;
      await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
    }
    this.context.log.warn(
      { fileId },
      'could not learn the message of the uploaded video; reactions on it will not work',
    );
    return undefined;
  }
}
