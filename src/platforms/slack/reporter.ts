import { webApi } from '@slack/bolt';
import type { DeliveryJobData } from '../../core/job.js';
import { type JobSnapshot, outcomeSnapshot, statusFingerprint } from '../../core/status-text.js';
import type { StatusSink } from '../../queue/status-tracker.js';
import type { SlackContext } from './context.js';
import { escapeMrkdwn, rerunButton, resultMessage, type StatusMessage, statusMessage } from './render.js';
import type { SlackDelivered, SlackStatusRef } from './store.js';

const MiB = 1024 * 1024;
/** Slack's per-file upload limit (platform notes S4; unconfirmed officially, 1 GB). */
const SLACK_MAX_UPLOAD = 1000 * MiB;

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
 * Keeps each job's one status message current with chat.update on the `progress` client. The
 * StatusTracker coalesces renders per job; this skips unchanged text, keeps within the workspace
 * budget, and never lets a late progress edit overwrite the final state.
 */
export class SlackStatusSink implements StatusSink {
  private readonly shown = new Map<string, string>();
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

  /** The text a fresh status message was posted with, so the first render does not repeat it. */
  remember(jobId: string, message: StatusMessage): void {
    this.shown.set(jobId, statusFingerprint(message.view));
  }

  show(snapshot: JobSnapshot): Promise<void> {
    return this.exclusive(snapshot.jobId, async () => {
      const ref = await this.context.messages.status(snapshot.jobId);
      if (!ref || ref.gone || ref.finished) return;
      const message = statusMessage(snapshot, { requesterId: ref.requesterId });
      const fingerprint = statusFingerprint(message.view);
      if (this.shown.get(snapshot.jobId) === fingerprint) return;
      if (!this.budget.take()) {
        this.context.log.debug(
          { jobId: snapshot.jobId },
          'slack edit budget spent; skipping a progress edit',
        );
        return;
      }
      try {
        await this.context.clients.progress.chat.update({
          channel: ref.channel,
          ts: ref.ts,
          text: message.text,
          blocks: message.blocks,
        });
        this.shown.set(snapshot.jobId, fingerprint);
      } catch (error) {
        if (await this.handleEditError(snapshot.jobId, ref, error)) return;
        throw error;
      }
    });
  }

  /** True when the error was expected and dealt with (rate limit, message gone). */
  async handleEditError(jobId: string, ref: SlackStatusRef, error: unknown): Promise<boolean> {
    const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
    if ((error as { code?: unknown }).code === webApi.ErrorCode.RateLimitedError) {
      const seconds = typeof retryAfter === 'number' ? retryAfter : 30;
      this.budget.pause(seconds * 1000);
      this.context.log.info(
        { jobId, retryAfterSeconds: seconds },
        'slack rate-limited progress edits; pausing them',
      );
      return true;
    }
    const code = slackErrorCode(error);
    if (code && GONE.has(code)) {
      this.context.log.info({ jobId, code }, 'status message gone or not editable; no more edits');
      await this.context.messages.setStatus(jobId, { ...ref, gone: true });
      return true;
    }
    return false;
  }

  /** The final edit (done, failed, cancelled), on the delivery client; later progress renders are ignored. */
  async finish(jobId: string, snapshot: JobSnapshot, extra: string[] = []): Promise<boolean> {
    return this.exclusive(jobId, async () => {
      const ref = await this.context.messages.status(jobId);
      if (!ref || ref.gone) return false;
      await this.context.messages.setStatus(jobId, { ...ref, finished: true });
      const message = statusMessage(snapshot, { requesterId: ref.requesterId, extra });
      try {
        await this.context.clients.delivery.chat.update({
          channel: ref.channel,
          ts: ref.ts,
          text: message.text,
          blocks: message.blocks,
        });
      } catch (error) {
        const code = slackErrorCode(error);
        if (code && GONE.has(code)) {
          await this.context.messages.setStatus(jobId, { ...ref, finished: true, gone: true });
          return false;
        }
        throw error;
      } finally {
        this.shown.delete(jobId);
      }
      return true;
    });
  }
}

/** Posts outcomes: the mp4 with the external upload flow, or why there is none. */
export class SlackDeliverer {
  constructor(
    private readonly context: SlackContext,
    private readonly sink: SlackStatusSink,
  ) {}

  async deliver(delivery: DeliveryJobData): Promise<void> {
    const { jobId, outcome } = delivery;
    const ref = await this.context.messages.status(jobId);
    const channel = String(delivery.reportTo.channel ?? ref?.channel ?? '');
    const threadTs = (delivery.reportTo.threadTs as string | undefined) ?? ref?.threadTs;
    if (!channel || ref?.unreachable) {
      await this.context.tracker.untrack(jobId);
      return;
    }
    const snapshot = outcomeSnapshot(delivery);
    if (outcome.kind === 'succeeded') {
      const delivered =
        (await this.context.messages.delivered(jobId)) ?? (await this.postVideo(delivery, channel, threadTs));
      const where = ref?.threadTs ? 'in this thread' : 'below';
      const extra = delivered.fileId ? [`The video is ${where}.`] : [];
      await this.sink
        .finish(jobId, snapshot, extra)
        .catch((error) => this.context.log.warn({ err: error, jobId }, 'could not mark the status done'));
    } else {
      const edited = ref && !ref.gone ? await this.sink.finish(jobId, snapshot) : false;
      if (!edited) {
        const message = statusMessage(snapshot, { requesterId: delivery.requester.userId });
        await this.context.clients.delivery.chat.postMessage({
          channel,
          ...(threadTs ? { thread_ts: threadTs } : {}),
          text: `<@${delivery.requester.userId}> ${message.text}`,
          blocks: message.blocks,
        });
      }
    }
    await this.context.tracker.untrack(jobId);
  }

  private async postVideo(
    delivery: DeliveryJobData,
    channel: string,
    threadTs: string | undefined,
  ): Promise<SlackDelivered> {
    if (delivery.outcome.kind !== 'succeeded') throw new Error('not a success');
    const { result } = delivery.outcome;
    const { blobs } = this.context.service.pipeline;
    const stored = await blobs.open(result.videoKey);
    if (!stored) throw new Error(`the finished video ${result.videoKey} has expired`);
    const filename = `kinema-${delivery.request.seed}.mp4`;
    const message = resultMessage(delivery.jobId, delivery.request, {
      requesterId: delivery.requester.userId,
      durationSeconds: result.durationSeconds,
      parentJobId: delivery.parentJobId,
      notes: result.notes,
    });
    const client = this.context.clients.delivery;
    let delivered: SlackDelivered | undefined;
    let refused: string | undefined;
    if (stored.meta.bytes <= SLACK_MAX_UPLOAD) {
      const chunks: Buffer[] = [];
      for await (const chunk of stored.stream) chunks.push(chunk as Buffer);
      try {
        // The external upload flow (files.getUploadURLExternal, POST, files.completeUploadExternal).
        const file = {
          file: Buffer.concat(chunks),
          filename,
          title: `Kinema · seed ${delivery.request.seed}`,
          alt_text: `Video: ${delivery.request.prompt}`.slice(0, 1000),
          blocks: message.blocks,
        };
        const upload = await client.filesUploadV2(
          threadTs ? { ...file, channel_id: channel, thread_ts: threadTs } : { ...file, channel_id: channel },
        );
        const completion = (upload.files as Array<{ files?: Array<{ id?: string }> }> | undefined)?.[0];
        const fileId = completion?.files?.[0]?.id ?? '';
        delivered = { fileId, ts: fileId ? await this.shareTs(fileId, channel) : undefined };
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
      const posted = await client.chat.postMessage({
        channel,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        text: `${message.text}\n${escapeMrkdwn(note)}`,
        blocks: [
          ...message.blocks.slice(0, -1),
          { type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(note) } },
          { type: 'actions', elements: [rerunButton(delivery.jobId)] },
        ],
      });
      delivered = { fileId: '', ts: posted.ts };
    }
    await this.context.messages.markDelivered(delivery.jobId, delivered);
    if (delivered.ts) await this.context.messages.linkMessage(channel, delivered.ts, delivery.jobId);
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
