import type { Redis } from 'ioredis';
import { jsonCodec, StatusMessages, type StatusRefBase } from '../shared/status-messages.js';

export interface SlackStatusRef extends StatusRefBase {
  channel: string;
  /** The status message. */
  ts: string;
  /** Thread the status message (and later the video) lives in, when not the channel itself. */
  threadTs?: string;
  requesterId: string;
  /** The status could never be posted (the bot may not post there): the outcome is not posted either. */
  unreachable?: boolean;
}

export interface SlackDelivered {
  fileId: string;
  /** ts of the message that shares the file, when Slack reported it. */
  ts?: string;
}

/** A Slack message is named by its conversation and ts. */
export const slackMessageId = (channel: string, ts: string) => `${channel}:${ts}`;

/**
 * Which Slack message shows which job (the shared store, keyed by `channel:ts`), plus the claims
 * that make redelivered events and the app_mention/message pair start one job.
 */
export class SlackMessages extends StatusMessages<SlackStatusRef, SlackDelivered> {
  constructor(redis: Redis, prefix: string, ttlSeconds: number) {
    super(redis, prefix, 'slack', ttlSeconds, (ref) => slackMessageId(ref.channel, ref.ts), jsonCodec());
  }

  /**
   * True the first time a key is claimed within the TTL. Used for Events API `event_id`s (Slack
   * redelivers when an answer is slow) and for messages, which can arrive as both app_mention and
   * message events.
   */
  async claim(kind: 'event' | 'message', id: string, ttlSeconds = 24 * 3600): Promise<boolean> {
    return (await this.redis.set(this.key('claim', `${kind}:${id}`), '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }
}
