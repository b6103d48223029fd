import { describe, expect, it } from 'vitest';
import { PromptEvents, PromptMailbox } from '../../../src/backends/comfyui/prompt-events.js';
import type { SocketEvent } from '../../../src/backends/comfyui/socket.js';

/** A socket reduced to its subscribers. */
class FakeFeed {
  private readonly listeners = new Set<(event: SocketEvent) => void>();
  subscribe(listener: (event: SocketEvent) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  get subscribers() {
    return this.listeners.size;
  }
  message(type: string, promptId?: string) {
    const data = promptId ? { prompt_id: promptId } : {};
    for (const listener of this.listeners) listener({ kind: 'message', message: { type, data } });
  }
  send(event: SocketEvent) {
    for (const listener of this.listeners) listener(event);
  }
}

const never = new AbortController().signal;

async function drain(mailbox: PromptMailbox): Promise<string[]> {
  const seen: string[] = [];
  for (let event = await mailbox.next(0, never); event; event = await mailbox.next(0, never)) {
    seen.push(
      event.kind === 'message' ? `${event.message.type}:${event.message.data.prompt_id ?? ''}` : event.kind,
    );
  }
  return seen;
}

describe('PromptMailbox', () => {
  it("keeps the prompt's own messages, the queue status and the socket's opens and closes, in order", async () => {
    const feed = new FakeFeed();
    const mailbox = new PromptMailbox(feed, 'p1');
    feed.message('execution_start', 'p1');
    feed.message('progress', 'p2');
    feed.message('status');
    feed.send({ kind: 'close' });
    feed.send({ kind: 'open' });
    feed.message('execution_success', 'p1');
    expect(await drain(mailbox)).toEqual([
      'execution_start:p1',
      'status:',
      'close',
      'open',
      'execution_success:p1',
    ]);
  });

  it('wakes a waiting reader, answers undefined when nothing comes, and throws once the signal aborts', async () => {
    const feed = new FakeFeed();
    const mailbox = new PromptMailbox(feed, 'p1');
    const waiting = mailbox.next(60_000, never);
    feed.message('executing', 'p1');
    expect(await waiting).toMatchObject({ kind: 'message', message: { type: 'executing' } });
    expect(await mailbox.next(1, never)).toBeUndefined();
    const controller = new AbortController();
    const aborted = mailbox.next(60_000, controller.signal);
    controller.abort(new Error('shutdown'));
    await expect(aborted).rejects.toThrow('shutdown');
  });

  it('drops the oldest events beyond its limit', async () => {
    const feed = new FakeFeed();
    const mailbox = new PromptMailbox(feed, 'p1', 2);
    for (const type of ['a', 'b', 'c']) feed.message(type, 'p1');
    expect(await drain(mailbox)).toEqual(['b:p1', 'c:p1']);
  });

  it('stops listening when closed but keeps what it already has', async () => {
    const feed = new FakeFeed();
    const mailbox = new PromptMailbox(feed, 'p1');
    feed.message('execution_start', 'p1');
    mailbox.close();
    feed.message('execution_success', 'p1');
    expect(feed.subscribers).toBe(0);
    expect(await drain(mailbox)).toEqual(['execution_start:p1']);
  });
});

describe('PromptEvents', () => {
  it('hands the events collected since submit to the follow that claims them', async () => {
    const feed = new FakeFeed();
    const events = new PromptEvents();
    const opened = events.open(feed, 'p1');
    expect(events.open(feed, 'p1')).toBe(opened);
    feed.message('execution_start', 'p1');
    const claimed = events.claim(feed, 'p1');
    expect(claimed).toBe(opened);
    expect(await drain(claimed)).toEqual(['execution_start:p1']);
    // Claimed means owned by the follow: closing the registry leaves it listening.
    events.close();
    expect(feed.subscribers).toBe(1);
    claimed.close();
  });

  it('gives a re-attached prompt a fresh mailbox, and a dropped one stops listening', async () => {
    const feed = new FakeFeed();
    const events = new PromptEvents();
    events.open(feed, 'p1');
    events.drop('p1');
    expect(feed.subscribers).toBe(0);
    feed.message('execution_start', 'p1');
    const fresh = events.claim(feed, 'p1');
    feed.message('execution_success', 'p1');
    expect(await drain(fresh)).toEqual(['execution_success:p1']);
    fresh.close();
  });

  it('closes a mailbox nobody claimed within its time to live', async () => {
    const feed = new FakeFeed();
    const events = new PromptEvents(1);
    events.open(feed, 'p1');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(feed.subscribers).toBe(0);
  });
});
