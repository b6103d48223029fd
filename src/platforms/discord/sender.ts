import { type Client, RESTEvents } from 'discord.js';
import {
  type SendBudget,
  type SendOutcome,
  type SendPriority,
  SendScheduler,
  type SendTicket,
} from '../shared/send-scheduler.js';

/**
 * Discord's unpublished budget: 5 message creates or edits per 5 s in one channel, through any route
 * (bot token, interaction callbacks of type 4 and 7, webhook follow-ups and edits); defers do not
 * count (issue 10; platform notes D7–D8).
 */
export const DISCORD_CHANNEL_BUDGET: SendBudget = { count: 5, windowMs: 5_000 };

/** Interaction tokens live 15 minutes (D1). */
const TOKEN_LIFETIME_MS = 15 * 60 * 1000;

export interface DiscordSend<T> {
  channelId: string;
  priority: SendPriority;
  /** One status message: a waiting edit of it is replaced by a newer one. */
  key?: string;
  /** A retry that gives way to a newer waiting state of the same key (see SendRequest). */
  yieldToNewer?: boolean;
  run: () => Promise<T>;
}

/**
 * Every message create and edit of the Discord side goes through here, paced per channel by the
 * shared scheduler. discord.js itself still waits out any 429 (its REST queue retries after
 * `retry_after`); this counts each one, and a 429 of the channel's shared budget pauses the channel.
 */
export class DiscordSender {
  readonly scheduler: SendScheduler;
  /** Interaction token → channel, so a 429 on an interaction route is put on its channel. */
  private readonly tokens = new Map<string, { channelId: string; until: number }>();

  constructor(client: Client, budget: SendBudget = DISCORD_CHANNEL_BUDGET) {
    this.scheduler = new SendScheduler(() => budget, 'discord');
    client.rest.on(RESTEvents.Response, (request, response) => {
      if (response.status !== 429) return;
      const seconds = Number(response.headers.get('retry-after'));
      const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1_000;
      const channelId = this.channelOf(String(request.path));
      if (channelId && response.headers.get('x-ratelimit-scope') === 'shared') {
        this.scheduler.rateLimited(bucketOf(channelId), retryAfterMs);
      } else {
        // A route bucket discord.js knows from its headers: it waits on its own; only counted.
        this.scheduler.stats.rateLimited += 1;
      }
    });
  }

  schedule<T>(send: DiscordSend<T>): SendTicket<T> {
    return this.scheduler.schedule({ ...send, bucket: bucketOf(send.channelId) });
  }

  send<T>(send: DiscordSend<T>): Promise<SendOutcome<T>> {
    return this.schedule(send).outcome;
  }

  /** Runs an answer at once when the channel has a token free now (an interaction's 3 s deadline). */
  runNow<T>(channelId: string, run: () => Promise<T>): Promise<T> | undefined {
    return this.scheduler.runNow(bucketOf(channelId), run);
  }

  /** Once a job's status post (key `post:<job>`) is no longer waiting or on its way. */
  statusPosted(channelId: string, jobId: string): Promise<void> {
    return this.scheduler.settledKey(bucketOf(channelId), `post:${jobId}`);
  }

  /** Interaction routes name a token, not a channel: remember which channel each token answers in. */
  remember(interaction: { token: string; channelId: string | null; createdTimestamp: number }) {
    // Oldest first (tokens are remembered as interactions arrive): stop at the first still alive,
    // so a command costs no more when thousands of tokens are alive.
    const now = Date.now();
    for (const [token, entry] of this.tokens) {
      if (entry.until >= now) break;
      this.tokens.delete(token);
    }
    if (interaction.channelId) {
      this.tokens.set(interaction.token, {
        channelId: interaction.channelId,
        until: interaction.createdTimestamp + TOKEN_LIFETIME_MS,
      });
    }
  }

  private channelOf(path: string): string | undefined {
    const channel = /^\/channels\/(\d+)/.exec(path);
    if (channel) return channel[1];
    const token = /^\/(?:webhooks\/\d+|interactions\/\d+)\/([^/?]+)/.exec(path);
    return token ? this.tokens.get(token[1]!)?.channelId : undefined;
  }
}

export const bucketOf = (channelId: string) => `channel:${channelId}`;
