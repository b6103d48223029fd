import { afterEach, describe, expect, it } from 'vitest';
import { stopProcess, waitFor } from '../support/processes.js';
import { FairQueueHarness, labels, roundRobin } from './harness.js';

/**
 * Round robin across worker processes on one Redis. Two orders are checked:
 * - the order Redis handed jobs out (BullMQ's `active` event, written by the script that pops the
 *   job): exact, whatever the number of workers, since every pop is one atomic step;
 * - the order jobs reached the render service: the two jobs taken while both slots were free may
 *   arrive in either order; every later job is taken while exactly one slot is free (the test frees
 *   one at a time), so from the third on it must be exact.
 */
let h: FairQueueHarness;

afterEach(async () => {
  await h.close();
});

describe('fair queue across worker processes', () => {
  it('keeps 1 2 3 1 2 3 … with two worker processes taking jobs', async () => {
    h = await FairQueueHarness.start();
    await h.sendMany('A', 10);
    await h.sendMany('B', 10);
    await h.sendMany('C', 10);
    const expected = roundRobin(['A', 'B', 'C'], 10);
    expect(await h.reportedOrder()).toEqual(expected);

    await Promise.all([h.startWorkerProcess(), h.startWorkerProcess()]);
    await h.releaseOneAtATime(30);
    expect(await h.takenOrder()).toEqual(expected);
    const submitted = await h.submittedOrder();
    expect(submitted.slice(0, 2).sort()).toEqual(['A1', 'B1']);
    expect(submitted.slice(2)).toEqual(expected.slice(2));
  });

  it('starts B and C as soon as a slot frees when A sent 10 jobs to two busy workers', async () => {
    h = await FairQueueHarness.start();
    await Promise.all([h.startWorkerProcess(), h.startWorkerProcess()]);
    await h.sendMany('A', 10);
    await h.startedCount(2);
    await h.send('B', 'B1');
    await h.send('C', 'C1');
    const rest = ['B1', 'C1', ...labels('A', 3, 10)];
    expect(await h.reportedOrder()).toEqual(rest);

    await h.releaseOneAtATime(12);
    expect(await h.takenOrder()).toEqual(['A1', 'A2', ...rest]);
    const submitted = await h.submittedOrder();
    expect(submitted.slice(0, 2).sort()).toEqual(['A1', 'A2']);
    expect(submitted.slice(2)).toEqual(rest);
  });

  it('resumes a job whose worker was SIGKILLed before anyone waiting, without paying twice', async () => {
    h = await FairQueueHarness.start();
    const doomed = await h.startWorkerProcess();
    await h.send('A', 'A1');
    await h.startedCount(1);
    await h.startWorker();
    await h.send('Z', 'Z1');
    await h.startedCount(2);
    await h.send('B', 'B1');
    await h.send('C', 'C1');
    await h.send('A', 'A2');
    expect(await h.reportedOrder()).toEqual(['B1', 'C1', 'A2']);

    await stopProcess(doomed, 'SIGKILL');
    // BullMQ's stalled check (run by the surviving worker) puts A1 back on the plain wait list.
    await waitFor(
      async () => (await h.pipeline.queue.queue.getJobState(h.id('A1'))) === 'waiting',
      'the stalled job back in the queue',
    );
    expect(await h.reportedOrder()).toEqual(['A1', 'B1', 'C1', 'A2']);
    expect(await h.runToEnd(5)).toEqual(['A1', 'Z1', 'A1', 'B1', 'C1', 'A2']);
    expect(h.service.submissions()).toBe(5);
  });

  it('resumes a relaxed job handed back on shutdown before normal jobs, like a crashed one', async () => {
    h = await FairQueueHarness.start();
    const leaving = await h.startWorkerProcess();
    await h.send('X', 'X1', 'relax');
    await h.startedCount(1);
    await h.startWorker();
    await h.send('Z', 'Z1');
    await h.startedCount(2);
    await h.send('A', 'A1');

    await stopProcess(leaving, 'SIGTERM');
    expect(await h.pipeline.queue.state(h.id('X1'))).toBe('delayed');
    expect(await h.reportedOrder()).toEqual(['X1', 'A1']);
    expect(await h.runToEnd(3)).toEqual(['X1', 'Z1', 'X1', 'A1']);
    expect(h.service.submissions()).toBe(3);
  });
});
