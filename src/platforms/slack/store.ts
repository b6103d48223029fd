import type { Redis } from 'ioredis';

export interface SlackStatusRef {
  channel: string;
  /** The status message. */
  ts: string;
  /** Thread the status message (and later the video) lives in, when not the channel itself. */
  threadTs?: string;
  requesterId: string;
  postedAt: number;
  /** chat.update said the message cannot be edited any more: no more edits. */
  gone?: boolean;
  /** The final state has been drawn: late progress renders must not overwrite it. */
  finished?: boolean;
  /** The status could never be posted (the bot may not post there): the outcome is not posted either. */
  unreachable?: boolean;
}

export interface SlackDelivered {
  fileId: string;
  /** ts of the message that shares the file, when Slack reported it. */
  ts?: string;
}

/**
 * Which Slack message shows which job, in Redis, so any bot process (and one that restarted) can
 * edit the status, and a reaction on a status or result message finds its job. Also the claims
 * that make redelivered events and the app_mention/message pair start one job.
 */
export class SlackMessages {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private statusKey(jobId: string) {
    return `${this.prefix}:slack:status:${jobId}`;
  }
  private messageKey(channel: string, ts: string) {
    return `${this.prefix}:slack:message:${channel}:${ts}`;
  }
  private deliveredKey(jobId: string) {
    return `${this.prefix}:slack:delivered:${jobId}`;
  }

  async setStatus(jobId: string, ref: SlackStatusRef): Promise<void> {
    await this.redis
      .multi()
      .set(this.statusKey(jobId), JSON.stringify(ref), 'EX', this.ttlSeconds)
      .set(this.messageKey(ref.channel, ref.ts), jobId, 'EX', this.ttlSeconds)
      .exec();
  }

  async status(jobId: string): Promise<SlackStatusRef | undefined> {
    const raw = await this.redis.get(this.statusKey(jobId));
    return raw ? (JSON.parse(raw) as SlackStatusRef) : undefined;
  }

  async linkMessage(channel: string, ts: string, jobId: string): Promise<void> {
    await this.redis.set(this.messageKey(channel, ts), jobId, 'EX', this.ttlSeconds);
  }

  async jobOfMessage(channel: string, ts: string): Promise<string | undefined> {
    return (await this.redis.get(this.messageKey(channel, ts))) ?? undefined;
  }

  /** The result of a job, recorded right after the upload so a retried delivery never posts twice. */
  async delivered(jobId: string): Promise<SlackDelivered | undefined> {
    const raw = await this.redis.get(this.deliveredKey(jobId));
    return raw ? (JSON.parse(raw) as SlackDelivered) : undefined;
  }

  async markDelivered(jobId: string, delivered: SlackDelivered): Promise<void> {
    await this.redis.set(this.deliveredKey(jobId), JSON.stringify(delivered), 'EX', this.ttlSeconds);
  }

  /**
   * True the first time a key is claimed within the TTL. Used for Events API `event_id`s (Slack
   * redelivers when an answer is slow) and for messages, which can arrive as both app_mention and
   * message events.
   */
  async claim(kind: 'event' | 'message', id: string, ttlSeconds = 24 * 3600): Promise<boolean> {
    const key = `${this.prefix}:slack:claim:${kind}:${id}`;
    return (await this.redis.set(key, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }
}
