import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/processes.js';
import { FairQueueHarness, labels, roundRobin } from './harness.js';

/** Round robin between people with the real Redis, the real BullMQ queue and the real worker (one slot). */
let h: FairQueueHarness;

afterEach(async () => {
  await h.close();
});

describe('fair queue with one worker slot', () => {
  it('starts B and C 2nd and 3rd when A sent 10 jobs just before them', async () => {
    h = await FairQueueHarness.start();
    await h.startWorker();
    await h.sendMany('A', 10);
    await h.send('B', 'B1');
    await h.send('C', 'C1');
    await h.startedCount(1);

    const expected = ['A1', 'B1', 'C1', ...labels('A', 2, 10)];
    expect(await h.reportedOrder()).toEqual(expected.slice(1));
    expect(await h.pipeline.queue.position(h.id('B1'))).toEqual({ position: 1, of: 11 });
    expect(await h.pipeline.queue.position(h.id('A10'))).toEqual({ position: 11, of: 11 });

    expect(await h.runToEnd(12)).toEqual(expected);
    expect(await h.submittedOrder()).toEqual(expected);
  });

  it('takes turns 1 2 3 1 2 3 … when three people send 10 jobs each in a burst', async () => {
    h = await FairQueueHarness.start();
    await h.startWorker();
    await h.sendMany('A', 10);
    await h.sendMany('B', 10);
    await h.sendMany('C', 10);
    await h.startedCount(1);

    const expected = roundRobin(['A', 'B', 'C'], 10);
    expect(await h.reportedOrder()).toEqual(expected.slice(1));
    expect(await h.runToEnd(30)).toEqual(expected);
  });

  it('gives a person with a job running their next turn after everyone else’s, even when they send two at once', async () => {
    h = await FairQueueHarness.start();
    await h.startWorker();
    await h.send('A', 'A1');
    await h.startedCount(1);
    await h.send('B', 'B1');
    await h.send('C', 'C1');
    // Two requests of the same person racing each other still get two different turns.
    await Promise.all([h.send('A', 'A2'), h.send('A', 'A3')]);
    await h.send('B', 'B2');

    const reported = await h.reportedOrder();
    expect(reported.slice(0, 2)).toEqual(['B1', 'C1']);
    expect(reported[3]).toBe('B2');
    expect([reported[2], reported[4]].sort()).toEqual(['A2', 'A3']);
    expect(await h.runToEnd(6)).toEqual(['A1', ...reported]);
  });

  it('lets a retried job continue before anyone waiting, and keeps the rest in turn', async () => {
    h = await FairQueueHarness.start();
    h.service.failNextSubmissions(1, 503);
    await h.sendMany('A', 2);
    await h.sendMany('B', 2);
    await h.sendMany('C', 2);
    await h.startWorker();
    // A1's first attempt failed (a 503 before any task existed); B1 took the slot meanwhile.
    await h.startedCount(1);
    const retry = await h.pipeline.queue.queue.getJob(h.id('A1'));
    expect(await retry?.getState()).toBe('delayed');
    expect(retry?.attemptsMade).toBe(1);
    // Free the slot only once A1's backoff is over, so the worker finds it due (BullMQ scores a
    // delayed job by its due time in ms × 4096).
    const score = Number(await h.redis.zscore(h.pipeline.queue.queue.keys.delayed!, h.id('A1')));
    await waitFor(() => Date.now() > Math.floor(score / 0x1000), 'the end of the backoff');
    expect(await h.reportedOrder()).toEqual(['A1', 'C1', 'A2', 'B2', 'C2']);

    expect(await h.runToEnd(6)).toEqual(['A1', 'B1', 'A1', 'C1', 'A2', 'B2', 'C2']);
    expect(await h.submittedOrder()).toEqual(['B1', 'A1', 'C1', 'A2', 'B2', 'C2']);
  });

  it('moves a person’s later jobs up when they cancel waiting ones, so cancelling leaves no gap', async () => {
    h = await FairQueueHarness.start();
    await h.startWorker();
    await h.sendMany('A', 4);
    await h.startedCount(1);
    await h.sendMany('B', 4);
    expect(await h.reportedOrder()).toEqual(['B1', 'A2', 'B2', 'A3', 'B3', 'A4', 'B4']);

    expect(await h.pipeline.cancel({ jobId: h.id('A2'), by: 'A' })).toBe('removed');
    expect(await h.pipeline.cancel({ jobId: h.id('A3'), by: 'A' })).toBe('removed');
    // A4 is A's next job now: it runs in the second turn, not the fourth.
    const expected = ['B1', 'B2', 'A4', 'B3', 'B4'];
    expect(await h.reportedOrder()).toEqual(expected);
    expect(await h.runToEnd(6)).toEqual(['A1', ...expected]);
  });

  it('runs over-quota (relax) jobs after every normal one, taking turns among themselves', async () => {
    h = await FairQueueHarness.start();
    for (const n of [1, 2, 3]) await h.send('X', `X${n}`, 'relax');
    for (const n of [1, 2]) await h.send('Y', `Y${n}`, 'relax');
    await h.sendMany('A', 2);
    await h.send('B', 'B1');
    expect(await h.reportedOrder()).toEqual(['A1', 'B1', 'A2', 'X1', 'Y1', 'X2', 'Y2', 'X3']);

    await h.startWorker();
    await h.startedCount(1);
    // Someone within quota who comes later still goes before every relaxed job.
    await h.send('C', 'C1');
    const expected = ['B1', 'C1', 'A2', 'X1', 'Y1', 'X2', 'Y2', 'X3'];
    expect(await h.reportedOrder()).toEqual(expected);
    expect(await h.runToEnd(9)).toEqual(['A1', ...expected]);
  });

  it('starts the turns again from 1 once the queue is idle', async () => {
    h = await FairQueueHarness.start();
    await h.startWorker();
    h.releaseAll();
    await h.sendMany('A', 3);
    await h.waitUntilCompleted(3);
    await h.pipeline.queue.queue.pause();
    await h.send('A', 'A4');
    await h.send('A', 'A5');
    await h.send('B', 'B1', 'relax');
    const priority = async (label: string) => (await h.pipeline.queue.queue.getJob(h.id(label)))?.priority;
    expect(await priority('A4')).toBe(1);
    expect(await priority('A5')).toBe(2);
    expect(await priority('B1')).toBe(2 ** 20 + 1);
  });

  it('enqueues a chat event delivered twice once: the first request stays, no second turn is taken', async () => {
    h = await FairQueueHarness.start();
    await h.pipeline.queue.queue.pause();
    await h.send('A', 'A1');
    const id = h.id('A1');
    const first = (await h.pipeline.queue.queue.getJob(id))!.data;
    const again = { ...first, request: { ...first.request, prompt: 'A1 again' } };
    expect(await h.pipeline.queue.enqueue(id, again)).toEqual({ jobId: id, duplicate: true });
    expect((await h.pipeline.queue.records.get(id))?.request.prompt).toBe('A1');
    expect((await h.pipeline.queue.queue.getJob(id))?.data.request.prompt).toBe('A1');
    await h.send('A', 'A2');
    expect((await h.pipeline.queue.queue.getJob(h.id('A2')))?.priority).toBe(2);
  });

  it('keeps every turn within BullMQ’s priority limit, in both bands', async () => {
    h = await FairQueueHarness.start();
    await h.pipeline.queue.queue.pause();
    await h.send('A', 'A0');
    // As if a million turns had been served without the queue ever being idle.
    await h.redis.set(`${h.prefix}:fair:served:normal`, 2 ** 20 - 1);
    await h.redis.set(`${h.prefix}:fair:served:relax`, 2 ** 20 - 1);
    await h.send('A', 'A1');
    await h.send('A', 'A2');
    await h.send('B', 'B1', 'relax');
    await h.send('B', 'B2', 'relax');
    const priority = async (label: string) => (await h.pipeline.queue.queue.getJob(h.id(label)))?.priority;
    expect(await priority('A1')).toBe(2 ** 20 - 1);
    expect(await priority('A2')).toBe(2 ** 20 - 1);
    expect(await priority('B1')).toBe(2 ** 21 - 1);
    expect(await priority('B2')).toBe(2 ** 21 - 1);
    expect(await h.reportedOrder()).toEqual(['A0', 'A1', 'A2', 'B1', 'B2']);
  });
});
