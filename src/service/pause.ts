import type { Redis } from 'ioredis';
import type { GenerationQueue } from '../queue/generation-queue.js';
import { HeldJobs } from './held-jobs.js';

/**
 * Pausing, in Redis so it survives restarts of every process.
 *
 * - **A server** (its admins): new requests from it are refused, and its waiting jobs do not start:
 *   a worker that takes one puts it back (the worker policy), and `resumeServer` promotes them all
 *   with their fair turns. Jobs already rendering finish.
 * - **The whole bot** (BOT_OWNER_IDS): BullMQ's own queue pause, so no worker on any machine takes
 *   a new job; running jobs finish; new requests are refused.
 *
 * Redis: `<prefix>:paused:<platform>:<server>` and `<prefix>:paused:bot`, JSON of who paused it
 * and when; BullMQ's queue meta for the queue pause.
 */

export interface PauseRecord {
  /** Who paused it, as they are named on their platform. */
  by: string;
  /** Epoch ms. */
  since: number;
}

export interface PauseState {
  bot?: PauseRecord;
  server?: PauseRecord;
}

export class PauseControl {
  readonly held: HeldJobs;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly queue: GenerationQueue,
  ) {
    this.held = new HeldJobs(redis, prefix, queue, 'paused');
  }

  private key(server: string) {
    return `${this.prefix}:paused:${server}`;
  }

  async pauseServer(server: string, by: string): Promise<void> {
    await this.redis.set(this.key(server), JSON.stringify({ by, since: Date.now() } satisfies PauseRecord));
  }

  /** Returns how many held jobs went back in line. */
  async resumeServer(server: string): Promise<number> {
    await this.redis.del(this.key(server));
    return this.held.promoteAll(server);
  }

  async pauseBot(by: string): Promise<void> {
    await this.redis.set(this.key('bot'), JSON.stringify({ by, since: Date.now() } satisfies PauseRecord));
    await this.queue.queue.pause();
  }

  async resumeBot(): Promise<void> {
    await this.queue.queue.resume();
    await this.redis.del(this.key('bot'));
  }

  async serverPaused(server: string): Promise<PauseRecord | undefined> {
    return parse(await this.redis.get(this.key(server)));
  }

  /** The bot counts as paused when BullMQ's queue is, whoever paused it. */
  async botPaused(): Promise<PauseRecord | undefined> {
    const [record, paused] = await Promise.all([
      this.redis.get(this.key('bot')),
      this.queue.queue.isPaused(),
    ]);
    if (!paused) return undefined;
    return parse(record) ?? { by: 'unknown', since: 0 };
  }

  async state(server?: string): Promise<PauseState> {
    const [bot, mine] = await Promise.all([
      this.botPaused(),
      server ? this.serverPaused(server) : Promise.resolve(undefined),
    ]);
    return { ...(bot ? { bot } : {}), ...(mine ? { server: mine } : {}) };
  }
}

function parse(raw: string | null): PauseRecord | undefined {
  return raw ? (JSON.parse(raw) as PauseRecord) : undefined;
}
