import { webApi } from '@slack/bolt';
import {
  type SendBudget,
  type SendOutcome,
  type SendPriority,
  SendScheduler,
  type SendTicket,
} from '../shared/send-scheduler.js';

/**
 * Slack's budgets (platform notes S3): chat.postMessage "generally one message per second per
 * channel" (a file shared into a channel is a message too), and chat.update, Tier 3, counted per
 * method per workspace: its edits of every job share a budget kept below Slack's 50 per minute.
 */
export const SLACK_POSTS_PER_CHANNEL: SendBudget = { count: 1, windowMs: 1_000 };
export const SLACK_EDITS_PER_MINUTE = 40;

export const postBucket = (channel: string) => `post:${channel}`;
export const updateBucket = (teamId: string) => `update:${teamId}`;

/** The budget of each bucket: a channel's posts, or the workspace's edits. */
export function slackBudget(editsPerMinute: number, postsPerChannel = SLACK_POSTS_PER_CHANNEL) {
  return (bucket: string): SendBudget =>
    bucket.startsWith('update:') ? { count: editsPerMinute, windowMs: 60_000 } : postsPerChannel;
}

export interface SlackSend<T> {
  priority: SendPriority;
  /** One status message: a waiting edit of it is replaced by a newer one. */
  key?: string;
  run: () => Promise<T>;
}

/**
 * Every message post and edit of the Slack side goes through here, paced by the shared scheduler.
 * The Web API clients that wait out a 429 themselves (interactions, delivery) are watched: each 429
 * is counted and pauses its bucket; the progress client's 429s come back as errors (status-sink.ts).
 */
export class SlackSender {
  readonly scheduler: SendScheduler;

  constructor(
    private readonly teamId: string,
    editsPerMinute: number,
    waitingClients: webApi.WebClient[],
  ) {
    this.scheduler = new SendScheduler(slackBudget(editsPerMinute), 'slack');
    for (const client of waitingClients) {
      client.on(
        webApi.WebClientEvent.RATE_LIMITED,
        (seconds: number, request: { url?: string; body?: unknown }) => this.rateLimited(seconds, request),
      );
    }
  }

  /** A message in a channel (a status, a video share, a note). */
  post<T>(channel: string, send: SlackSend<T>): Promise<SendOutcome<T>> {
    return this.scheduler.send({ ...send, bucket: postBucket(channel) });
  }

  /** An edit of a message, within the workspace's chat.update budget. */
  update<T>(send: SlackSend<T>): SendTicket<T> {
    return this.scheduler.schedule({ ...send, bucket: updateBucket(this.teamId) });
  }

  /** Once a job's status post (key `post:<job>`) is no longer waiting or on its way. */
  statusPosted(channel: string, jobId: string): Promise<void> {
    return this.scheduler.settledKey(postBucket(channel), `post:${jobId}`);
  }

  private rateLimited(seconds: number, request: { url?: string; body?: unknown }) {
    const method = /([\w.]+)$/.exec(request.url ?? '')?.[1] ?? '';
    const channel = (request.body as { channel?: unknown; channel_id?: unknown } | undefined) ?? {};
    const where = String(channel.channel ?? channel.channel_id ?? '');
    const ms = seconds * 1000;
    if (method === 'chat.update') this.scheduler.rateLimited(updateBucket(this.teamId), ms);
    else if ((method === 'chat.postMessage' || method === 'files.completeUploadExternal') && where) {
      this.scheduler.rateLimited(postBucket(where), ms);
    } else this.scheduler.stats.rateLimited += 1;
  }
}
