import type { SocketEvent } from './socket.js';

/**
 * The socket events of one prompt, kept until `follow` reads them. A mailbox is opened at submit,
 * before the prompt is posted, so the first events are not lost, and `follow` claims it; a re-attached
 * prompt (another process submitted it) gets a fresh one.
 */

/** Events kept at most while nobody reads; the oldest go first (a poll of history recovers them). */
const MAILBOX_LIMIT = 5_000;
/** A mailbox opened at submit and never claimed (the submit failed later, or the worker died) closes. */
const UNCLAIMED_TTL_MS = 10 * 60_000;

/** What a mailbox listens to: the server's socket. */
export interface EventFeed {
  subscribe(listener: (event: SocketEvent) => void): () => void;
}

/** The prompt's own messages, the queue `status` messages, and the socket's opens and closes. */
export class PromptMailbox {
  private readonly items: SocketEvent[] = [];
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    feed: EventFeed,
    readonly promptId: string,
    private readonly limit = MAILBOX_LIMIT,
  ) {
    this.unsubscribe = feed.subscribe((event) => {
      if (event.kind !== 'message') return this.push(event);
      const { type, data } = event.message;
      if (type === 'status' || data.prompt_id === promptId) this.push(event);
    });
  }

  private push(event: SocketEvent) {
    this.items.push(event);
    if (this.items.length > this.limit) this.items.shift();
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next event, or undefined after `timeoutMs`. Throws when the signal aborts. */
  async next(timeoutMs: number, signal: AbortSignal): Promise<SocketEvent | undefined> {
    signal.throwIfAborted();
    if (this.items.length > 0) return this.items.shift();
    if (timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          if (this.wake === done) this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
    signal.throwIfAborted();
    return this.items.shift();
  }

  /** Stops listening; events already in the mailbox can still be read. */
  close() {
    this.unsubscribe();
  }
}

/** The mailboxes opened at submit and not yet claimed by `follow`, by prompt id. */
export class PromptEvents {
  private readonly unclaimed = new Map<string, { mailbox: PromptMailbox; timer: NodeJS.Timeout }>();

  constructor(private readonly ttlMs = UNCLAIMED_TTL_MS) {}

  /** Starts collecting the prompt's events (once: a second call returns the same mailbox). */
  open(feed: EventFeed, promptId: string): PromptMailbox {
    const existing = this.unclaimed.get(promptId);
    if (existing) return existing.mailbox;
    const mailbox = new PromptMailbox(feed, promptId);
    const timer = setTimeout(() => this.drop(promptId), this.ttlMs);
    timer.unref();
    this.unclaimed.set(promptId, { mailbox, timer });
    return mailbox;
  }

  /** The mailbox opened at submit, or a fresh one; the caller now owns it and closes it. */
  claim(feed: EventFeed, promptId: string): PromptMailbox {
    const entry = this.unclaimed.get(promptId);
    if (!entry) return new PromptMailbox(feed, promptId);
    clearTimeout(entry.timer);
    this.unclaimed.delete(promptId);
    return entry.mailbox;
  }

  /** Closes an unclaimed mailbox, e.g. after its submit failed. */
  drop(promptId: string) {
    const entry = this.unclaimed.get(promptId);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.mailbox.close();
    this.unclaimed.delete(promptId);
  }

  close() {
    for (const promptId of [...this.unclaimed.keys()]) this.drop(promptId);
  }
}
