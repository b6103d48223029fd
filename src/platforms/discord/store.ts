import type { Redis } from 'ioredis';

export interface StatusMessageRef {
  channelId: string;
  messageId: string;
  postedAt: number;
  /** Set once Discord said the message is gone (10008): edits stop, the result gets a new post. */
  gone?: boolean;
  /** Set when the outcome is known: from then on only the delivery edits the message. */
  finished?: boolean;
}

export interface PickedAttachment {
  url: string;
  name: string;
  size: number;
  contentType: string | null;
}

/**
 * Which Discord message shows which job, in Redis, so any bot process (and one that restarted)
 * can edit the status, and a reaction on a result finds its job.
 */
export class DiscordMessages {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  private statusKey(jobId: string) {
    return `${this.prefix}:discord:status:${jobId}`;
  }
  private messageKey(messageId: string) {
    return `${this.prefix}:discord:message:${messageId}`;
  }
  private deliveredKey(jobId: string) {
    return `${this.prefix}:discord:delivered:${jobId}`;
  }

  /**
   * The image a context-menu user picked, kept while they type the prompt: reading the message back
   * later would need the privileged Message Content intent, the interaction carries it for free.
   */
  async setPicked(messageId: string, userId: string, attachment: PickedAttachment): Promise<void> {
    await this.redis.set(
      `${this.prefix}:discord:picked:${messageId}:${userId}`,
      JSON.stringify(attachment),
      'EX',
      900,
    );
  }

  async picked(messageId: string, userId: string): Promise<PickedAttachment | undefined> {
    const raw = await this.redis.get(`${this.prefix}:discord:picked:${messageId}:${userId}`);
    return raw ? (JSON.parse(raw) as PickedAttachment) : undefined;
  }

  async setStatus(jobId: string, ref: StatusMessageRef): Promise<void> {
    await this.redis
      .multi()
      .set(this.statusKey(jobId), JSON.stringify(ref), 'EX', this.ttlSeconds)
      .set(this.messageKey(ref.messageId), jobId, 'EX', this.ttlSeconds)
      .exec();
  }

  async status(jobId: string): Promise<StatusMessageRef | undefined> {
    const raw = await this.redis.get(this.statusKey(jobId));
    return raw ? (JSON.parse(raw) as StatusMessageRef) : undefined;
  }

  async linkMessage(messageId: string, jobId: string): Promise<void> {
    await this.redis.set(this.messageKey(messageId), jobId, 'EX', this.ttlSeconds);
  }

  async jobOfMessage(messageId: string): Promise<string | undefined> {
    return (await this.redis.get(this.messageKey(messageId))) ?? undefined;
  }

  /** The result message of a job, recorded right after posting so a retried delivery never posts twice. */
  async delivered(jobId: string): Promise<string | undefined> {
    return (await this.redis.get(this.deliveredKey(jobId))) ?? undefined;
  }

  async markDelivered(jobId: string, messageId: string): Promise<void> {
    await this.redis.set(this.deliveredKey(jobId), messageId, 'EX', this.ttlSeconds);
  }
}
