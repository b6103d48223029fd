import type { Redis } from 'ioredis';

/** What every platform records about a job's status message. */
export interface StatusRefBase {
  postedAt: number;
  /** The platform said the message is gone or not editable: no more edits. */
  gone?: boolean;
  /** The outcome is drawn: from then on only the delivery edits the message. */
  finished?: boolean;
}

/**
 * Which chat message shows which job, in Redis, so any bot process (and one that restarted) can
 * edit the status, a reaction on a status or result message finds its job, and a retried delivery
 * never posts twice. `messageId` is whatever names a message on the platform (Discord's message id,
 * Slack's `channel:ts`); `Delivered` is what a posted result is remembered by.
 */
export class StatusMessages<Ref extends StatusRefBase, Delivered> {
  constructor(
    protected readonly redis: Redis,
    protected readonly prefix: string,
    private readonly platform: string,
    private readonly ttlSeconds: number,
    private readonly messageIdOf: (ref: Ref) => string,
    private readonly codec: { encode(value: Delivered): string; decode(raw: string): Delivered },
  ) {}

  protected key(kind: string, id: string) {
    return `${this.prefix}:${this.platform}:${kind}:${id}`;
  }

  async setStatus(jobId: string, ref: Ref): Promise<void> {
    await this.redis
      .multi()
      .set(this.key('status', jobId), JSON.stringify(ref), 'EX', this.ttlSeconds)
      .set(this.key('message', this.messageIdOf(ref)), jobId, 'EX', this.ttlSeconds)
      .exec();
  }

  /**
   * Records a status only where none is recorded yet, and maps no message to it: a job whose outcome
   * came before its status message was posted is marked, so the late post is skipped.
   */
  /** Whether this call set it (nothing was recorded for the job before). */
  async setStatusIfAbsent(jobId: string, ref: Ref): Promise<boolean> {
    const set = await this.redis.set(
      this.key('status', jobId),
      JSON.stringify(ref),
      'EX',
      this.ttlSeconds,
      'NX',
    );
    return set === 'OK';
  }

  async status(jobId: string): Promise<Ref | undefined> {
    const raw = await this.redis.get(this.key('status', jobId));
    return raw ? (JSON.parse(raw) as Ref) : undefined;
  }

  async linkMessage(messageId: string, jobId: string): Promise<void> {
    await this.redis.set(this.key('message', messageId), jobId, 'EX', this.ttlSeconds);
  }

  async jobOfMessage(messageId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('message', messageId))) ?? undefined;
  }

  /** The result of a job, recorded right after posting it. */
  async delivered(jobId: string): Promise<Delivered | undefined> {
    const raw = await this.redis.get(this.key('delivered', jobId));
    return raw === null ? undefined : this.codec.decode(raw);
  }

  async markDelivered(jobId: string, delivered: Delivered): Promise<void> {
    await this.redis.set(this.key('delivered', jobId), this.codec.encode(delivered), 'EX', this.ttlSeconds);
  }
}

export const textCodec = { encode: (value: string) => value, decode: (raw: string) => raw };
export const jsonCodec = <T>() => ({
  encode: (value: T) => JSON.stringify(value),
  decode: (raw: string) => JSON.parse(raw) as T,
});
