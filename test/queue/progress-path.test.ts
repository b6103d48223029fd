import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GenerationJobData, JobProgress } from '../../src/core/job.js';
import { finaliseRequest } from '../../src/core/request.js';
import { type JobSnapshot, renderStatus, type StatusView } from '../../src/core/status-text.js';
import { createLogger } from '../../src/log.js';
import { Pipeline } from '../../src/pipeline.js';
import { BotStatusTracker } from '../../src/queue/bot-status-tracker.js';
import { WorkerProgressWriter } from '../../src/queue/worker-progress-writer.js';
import { waitFor } from '../support/processes.js';
import { cleanPrefix, TEST_REDIS_URL, testRedis, uniquePrefix } from '../support/redis.js';

/**
 * The two ends of a job's progress: the worker side writes it into Redis throttled (one write per
 * interval, nothing unchanged), the bot side shows it coalesced (nothing that looks the same twice).
 */

describe('WorkerProgressWriter (worker side: the one throttle)', () => {
  let written: JobProgress[];
  const target = {
    data: { remote: { taskId: 'task-1' } },
    updateProgress: async (progress: object) => {
      written.push(progress as JobProgress);
    },
  };

  beforeAll(() => {
    vi.useFakeTimers();
    // On a whole second, so an ETA 200 ms later shows the same second.
    vi.setSystemTime(new Date('2030-01-01T00:00:00.000Z'));
  });
  afterAll(() => {
    vi.useRealTimers();
  });
  afterEach(() => {
    written = [];
  });
  written = [];

  it('writes at most once per interval within a phase, and the latest value still lands', async () => {
    const writer = new WorkerProgressWriter(target, 1_000);
    await writer.write({ phase: 'running', percent: 10 });
    await writer.write({ phase: 'running', percent: 20 });
    await writer.write({ phase: 'running', percent: 30 });
    expect(written.map((progress) => progress.percent)).toEqual([10]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(written.map((progress) => progress.percent)).toEqual([10, 30]);
    expect(written[0]?.taskId).toBe('task-1');
  });

  it('writes a new phase at once', async () => {
    const writer = new WorkerProgressWriter(target, 1_000);
    await writer.write({ phase: 'running', percent: 50 });
    await writer.write({ phase: 'encoding', percent: 99, detail: 'preparing the video' });
    expect(written.map((progress) => progress.phase)).toEqual(['running', 'encoding']);
  });

  it('writes nothing when nothing a person would see changed, and never moves the percent back', async () => {
    const writer = new WorkerProgressWriter(target, 1_000);
    const etaAt = Date.now() + 60_000;
    await writer.write({ phase: 'running', percent: 40, detail: 'step 4/10', etaAt });
    await vi.advanceTimersByTimeAsync(5_000);
    await writer.write({ phase: 'running', percent: 40, detail: 'step 4/10', etaAt: etaAt + 200 });
    await writer.write({ phase: 'running', percent: 35, detail: 'step 4/10', etaAt }, true);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(written).toHaveLength(1);
    await writer.write({ phase: 'running', percent: 35, detail: 'step 5/10', etaAt });
    expect(written.map((progress) => [progress.percent, progress.detail])).toEqual([
      [40, 'step 4/10'],
      [40, 'step 5/10'],
    ]);
  });
  it('sends only the latest of the updates that come while a write is on its way, and settles after it', async () => {
    const landed: (number | undefined)[] = [];
    const slow: (() => void)[] = [];
    const writer = new WorkerProgressWriter(
      {
        data: {},
        updateProgress: (progress: object) =>
          new Promise<void>((resolve) =>
            slow.push(() => {
              landed.push((progress as JobProgress).percent);
              resolve();
            }),
          ),
      },
      0,
    );
    for (const percent of [10, 20, 30]) await writer.write({ phase: 'running', percent });
    expect(slow).toHaveLength(1);
    let settled = false;
    const settling = writer.settled().then(() => {
      settled = true;
    });
    slow.shift()?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(slow).toHaveLength(1);
    expect(settled).toBe(false);
    slow.shift()?.();
    await settling;
    expect(landed).toEqual([10, 30]);
  });
});

describe('BotStatusTracker (bot side: the one coalescer)', () => {
  const redis = testRedis();
  const prefix = uniquePrefix('progress-path');
  const log = createLogger('silent');
  let pipeline: Pipeline;
  let trackers: BotStatusTracker[] = [];

  async function enqueue(jobId: string) {
    const image = await pipeline.inputs.save({
      bytes: Buffer.from('png'),
      contentType: 'image/png',
      width: 64,
      height: 64,
      filename: 'a.png',
    });
    const data: GenerationJobData = {
      request: finaliseRequest({ prompt: 'p', seed: 1 }, { input_image: image }, 'wan2.1'),
      requester: { platform: 'test', userId: 'u1', displayName: 'Tester' },
      reportTo: { platform: 'test' },
      createdAt: Date.now(),
      notes: [],
    };
    await pipeline.queue.enqueue(jobId, data);
  }

  /** A tracker whose sink records the headlines it was asked to show; `answers` says what show returns. */
  async function trackerWith(answers: boolean[] = []) {
    const shown: string[] = [];
    const tracker = new BotStatusTracker(
      pipeline.connection,
      pipeline.queue,
      {
        show: async (_snapshot: JobSnapshot, view: StatusView) => {
          shown.push(view.headline);
          return answers.shift() ?? true;
        },
      },
      log,
      { prefix, platform: `test-${trackers.length}`, minIntervalMs: 0 },
    );
    trackers.push(tracker);
    await tracker.start();
    return { tracker, shown };
  }

  beforeAll(() => {
    pipeline = new Pipeline({ redisUrl: TEST_REDIS_URL, prefix, log });
  });

  afterEach(async () => {
    await Promise.all(trackers.map((tracker) => tracker.close()));
    trackers = [];
    await pipeline.queue.queue.obliterate({ force: true });
  });

  afterAll(async () => {
    await pipeline.close();
    await cleanPrefix(redis, prefix);
    await redis.quit();
  });

  it('does not send a view that looks the same as the one on screen', async () => {
    const { tracker, shown } = await trackerWith();
    await enqueue('same-1');
    await tracker.track('same-1');
    await waitFor(() => shown.length === 1, 'the first render');
    await tracker.track('same-1');
    await enqueue('same-2');
    await waitFor(() => shown.includes('Queued: #1 of 2'), 'the new position');
    expect(shown).toEqual(['Queued: #1 of 1', 'Queued: #1 of 2']);
  });

  it('offers a view again when the sink skipped it (an edit budget was spent)', async () => {
    const { tracker, shown } = await trackerWith([false]);
    await enqueue('skip-1');
    await tracker.track('skip-1');
    // No new event comes: the skipped view is offered again by itself, once, and then kept.
    await waitFor(() => shown.length === 2, 'the same view, offered again');
    await enqueue('skip-2');
    await waitFor(() => shown.includes('Queued: #1 of 2'), 'the new position');
    expect(shown).toEqual(['Queued: #1 of 1', 'Queued: #1 of 1', 'Queued: #1 of 2']);
  });

  it('does not redraw what a freshly posted status message already shows', async () => {
    const { tracker, shown } = await trackerWith();
    await enqueue('posted-1');
    const posted = renderStatus((await tracker.snapshot('posted-1'))!);
    expect(posted.headline).toBe('Queued: #1 of 1');
    await tracker.track('posted-1', posted);
    await enqueue('posted-2');
    await waitFor(() => shown.includes('Queued: #1 of 2'), 'the new position');
    expect(shown).toEqual(['Queued: #1 of 2']);
  });
});
