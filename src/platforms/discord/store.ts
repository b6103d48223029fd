import type { Redis } from 'ioredis';
import { StatusMessages, type StatusRefBase, textCodec } from '../shared/status-messages.js';

export interface StatusMessageRef extends StatusRefBase {
  channelId: string;
  messageId: string;
}

export interface PickedAttachment {
  url: string;
  name: string;
  size: number;
  contentType: string | null;
}

/**
 * Which Discord message shows which job (the shared store, keyed by message id; a delivered result
 * is remembered by its message id), plus the image a context-menu user picked.
 */
export class DiscordMessages extends StatusMessages<StatusMessageRef, string> {
  constructor(redis: Redis, prefix: string, ttlSeconds: number) {
    super(redis, prefix, 'discord', ttlSeconds, (ref) => ref.messageId, textCodec);
  }

  /** The outcome came before any status message: a status post still waiting is skipped. */
  markUnposted(jobId: string, channelId: string): Promise<boolean> {
    return this.setStatusIfAbsent(jobId, {
      channelId,
      messageId: `unposted-${jobId}`,
      postedAt: Date.now(),
      gone: true,
      finished: true,
    });
  }

  /**
   * The image a context-menu user picked, kept while they type the prompt: reading the message back
   * later would need the privileged Message Content intent, the interaction carries it for free.
   */
  async setPicked(messageId: string, userId: string, attachment: PickedAttachment): Promise<void> {
    await this.redis.set(this.key('picked', `${messageId}:${userId}`), JSON.stringify(attachment), 'EX', 900);
  }

  async picked(messageId: string, userId: string): Promise<PickedAttachment | undefined> {
    const raw = await this.redis.get(this.key('picked', `${messageId}:${userId}`));
    return raw ? (JSON.parse(raw) as PickedAttachment) : undefined;
  }
}
