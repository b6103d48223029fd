import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AckGate } from '../../../src/platforms/shared/ack-gate.js';
import { MemoryBudget } from '../../../src/platforms/shared/memory-budget.js';
import {
  RateLimitedError,
  type SendPriority,
  SendScheduler,
} from '../../../src/platforms/shared/send-scheduler.js';

/** The platform-neutral core of sending (issue 10 item 1), on a fake clock. */
describe('the send scheduler', () => {
  const budget = { count: 5, windowMs: 5_000 };
  let scheduler: SendScheduler;
  /** What ran, in order, and when (fake time). */
  let log: { what: string; at: number }[];

  const op = (what: string, priority: SendPriority, key?: string, bucket = 'channel:1') =>
    scheduler.schedule({
      bucket,
      priority,
      key,
      run: async () => {
        log.push({ what, at: Date.now() });
        return what;
      },
    });

  beforeEach(() => {
    vi.useFakeTimers();
    scheduler = new SendScheduler(() => budget);
    log = [];
  });

  afterEach(() => {
    scheduler.close();
    vi.useRealTimers();
  });

  it('never starts more operations in a window than the budget allows, and sends them all', async () => {
    const tickets = Array.from({ length: 12 }, (_, i) => op(`post ${i}`, 'urgent'));
    await vi.advanceTimersByTimeAsync(20_000);
    expect((await Promise.all(tickets.map((t) => t.outcome))).every((o) => o.sent)).toBe(true);
    for (const { at } of log) {
      expect(
        log.filter((other) => other.at >= at && other.at < at + budget.windowMs).length,
      ).toBeLessThanOrEqual(budget.count);
    }
    expect(log).toHaveLength(12);
  });

  it('sends the video before progress edits that were waiting longer', async () => {
    for (let i = 0; i < 5; i++) op(`first ${i}`, 'first');
    await vi.advanceTimersByTimeAsync(0);
    op('progress a', 'progress', 'status:a');
    op('progress b', 'progress', 'status:b');
    op('video c', 'urgent', 'status:c');
    await vi.advanceTimersByTimeAsync(20_000);
    const order = log.map((entry) => entry.what).slice(5);
    expect(order).toEqual(['video c', 'progress a', 'progress b']);
  });

  it('replaces a waiting edit of the same message with the latest state, keeping its place', async () => {
    for (let i = 0; i < 5; i++) op(`first ${i}`, 'first');
    op('progress other', 'progress', 'status:other');
    const states = Array.from({ length: 10 }, (_, i) => op(`progress ${i}`, 'progress', 'status:job'));
    await vi.advanceTimersByTimeAsync(20_000);
    const outcomes = await Promise.all(states.map((t) => t.outcome));
    expect(outcomes.filter((o) => o.sent)).toEqual([{ sent: true, value: 'progress 9' }]);
    expect(outcomes.slice(0, 9).every((o) => !o.sent && o.reason === 'superseded')).toBe(true);
    expect(log.map((entry) => entry.what).slice(5)).toEqual(['progress other', 'progress 9']);
    expect(scheduler.stats.coalesced).toBe(9);
  });

  it('keeps the final state of a message after the edit already on its way', async () => {
    let release!: () => void;
    scheduler.schedule({
      bucket: 'channel:1',
      priority: 'progress',
      key: 'status:job',
      run: () =>
        new Promise<void>((resolve) => (release = resolve)).then(() => log.push({ what: 'progress', at: 0 })),
    });
    await vi.advanceTimersByTimeAsync(0);
    const final = op('done', 'urgent', 'status:job');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(log).toEqual([]);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect((await final.outcome).sent).toBe(true);
    expect(log.map((entry) => entry.what)).toEqual(['progress', 'done']);
  });

  it('leaves the last tokens of a window to the more important classes, and skips position refreshes when it is full', async () => {
    const progress = Array.from({ length: 6 }, (_, i) => op(`progress ${i}`, 'progress', `status:${i}`));
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toHaveLength(4);
    const position = op('position', 'position', 'status:waiting');
    expect(position.accepted).toBe(false);
    expect(await position.outcome).toEqual({ sent: false, reason: 'skipped' });
    op('video', 'urgent');
    await vi.advanceTimersByTimeAsync(0);
    expect(log.map((entry) => entry.what)).toContain('video');
    await vi.advanceTimersByTimeAsync(20_000);
    expect((await Promise.all(progress.map((t) => t.outcome))).every((o) => o.sent)).toBe(true);
    expect(scheduler.stats.skipped).toBe(1);
  });

  it('obeys a 429: the refused operation waits its retry-after and is sent again; more important ones go on', async () => {
    let refusals = 1;
    const refused = scheduler.schedule({
      bucket: 'channel:1',
      priority: 'progress',
      key: 'status:job',
      run: async () => {
        if (refusals-- > 0) throw new RateLimitedError(3_000);
        log.push({ what: 'progress', at: Date.now() });
      },
    });
    await vi.advanceTimersByTimeAsync(0);
    const started = Date.now();
    op('video', 'urgent');
    op('later progress', 'progress', 'status:other');
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await refused.outcome).sent).toBe(true);
    expect(log[0]!.what).toBe('video');
    expect(log.find((entry) => entry.what === 'progress')!.at - started).toBeGreaterThanOrEqual(3_000);
    expect(log.find((entry) => entry.what === 'later progress')!.at - started).toBeGreaterThanOrEqual(3_000);
    expect(scheduler.stats.rateLimited).toBe(1);
  });

  it('a retry gives way to a newer waiting state of its message', async () => {
    for (let i = 0; i < 5; i++) op(`first ${i}`, 'first');
    op('newer', 'progress', 'status:job');
    const retry = scheduler.schedule({
      bucket: 'channel:1',
      priority: 'progress',
      key: 'status:job',
      yieldToNewer: true,
      run: async () => log.push({ what: 'older', at: 0 }),
    });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await retry.outcome).toEqual({ sent: false, reason: 'superseded' });
    expect(log.map((entry) => entry.what)).toContain('newer');
    expect(log.map((entry) => entry.what)).not.toContain('older');
  });

  it('runs an answer at once only while the channel has a token free', async () => {
    expect(await scheduler.runNow('channel:1', async () => 'now')).toBe('now');
    for (let i = 0; i < 4; i++) op(`post ${i}`, 'urgent');
    await vi.advanceTimersByTimeAsync(0);
    expect(scheduler.runNow('channel:1', async () => 'now')).toBeUndefined();
    expect(scheduler.runNow('channel:2', async () => 'elsewhere')).toBeDefined();
    await vi.advanceTimersByTimeAsync(5_001);
    expect(scheduler.idle('channel:1')).toBe(true);
  });
});

describe('the ack gate', () => {
  it('holds slow work back until every acknowledgement of the burst is answered', async () => {
    const gate = new AckGate();
    const events: string[] = [];
    const answers: (() => void)[] = [];
    const command = async (id: number) => {
      await gate.ack(() => new Promise<void>((resolve) => answers.push(resolve)));
      events.push(`acked ${id}`);
      await gate.settled();
      events.push(`work ${id}`);
    };
    const commands = [1, 2, 3].map(command);
    await new Promise((resolve) => setImmediate(resolve));
    answers[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['acked 1']);
    answers[2]!();
    answers[1]!();
    await Promise.all(commands);
    expect(events.slice(0, 3).sort()).toEqual(['acked 1', 'acked 2', 'acked 3']);
    expect(events.slice(3).sort()).toEqual(['work 1', 'work 2', 'work 3']);
  });

  it('does not hold work back for acknowledgements that start after it waited', async () => {
    const gate = new AckGate();
    await gate.ack(async () => undefined);
    const waited = gate.settled();
    // The next turn of the event loop: the burst read so far is behind it.
    await new Promise((resolve) => setImmediate(resolve));
    let late!: () => void;
    const lateAck = gate.ack(() => new Promise<void>((resolve) => (late = resolve)));
    await waited;
    late();
    await lateAck;
  });
});

describe('the upload memory budget', () => {
  it('holds at most its limit of bytes at once, and lets a larger file through alone', async () => {
    const memory = new MemoryBudget(10);
    let peak = 0;
    const upload = (bytes: number) =>
      memory.use(bytes, async () => {
        peak = Math.max(peak, memory.held);
        await new Promise((resolve) => setTimeout(resolve, 5));
      });
    await Promise.all([upload(6), upload(6), upload(4), upload(25), upload(3)]);
    expect(peak).toBe(25);
    expect(memory.held).toBe(0);
    const small = new MemoryBudget(10);
    let smallPeak = 0;
    await Promise.all(
      [6, 6, 4, 3].map((bytes) =>
        small.use(bytes, async () => {
          smallPeak = Math.max(smallPeak, small.held);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }),
      ),
    );
    expect(smallPeak).toBeLessThanOrEqual(10);
  });
});
