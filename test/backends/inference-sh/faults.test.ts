import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import type { BackendEvent } from '../../../src/backends/backend.js';
import { InferenceHttp, type InferenceTimeouts } from '../../../src/backends/inference-sh/http.js';
import { INFERENCE_DEFAULTS } from '../../../src/backends/inference-sh/options.js';
import {
  AmbiguousSubmitError,
  CancelledError,
  ConfigurationError,
  TransientError,
  UserFacingError,
} from '../../../src/core/errors.js';
import type { FakeFaults } from '../../fakes/inference-sh/server.js';
import {
  FAST,
  followCatching,
  type Harness,
  harnessPerTest,
  readAll,
  runToVideo,
  submit,
  submitCatching,
  until,
} from '../../support/inference-sh-harness.js';

const start = harnessPerTest();

const count = (h: Harness, suffix: string) => h.fake.requests().filter((r) => r.path.endsWith(suffix)).length;

function expectSaneProgress(events: BackendEvent[]) {
  const percents = events.flatMap((e) => (e.type === 'progress' ? [e.progress.percent ?? 0] : []));
  for (let i = 1; i < percents.length; i += 1) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1]!);
  for (const percent of percents) expect(percent).toBeLessThan(100);
  expect(events.at(-1)?.type).toBe('completed');
}

describe('response shapes (§4, §5, §10.3)', () => {
  it.each<Partial<FakeFaults>>([
    { envelope: 'bare' },
    { envelope: 'v1' },
    { outputShape: 'object' },
    { statusForm: 'string' },
    { numbering: 'old' },
    { numbering: 'old', envelope: 'bare', outputShape: 'object' },
    { statusForm: 'string', envelope: 'v1' },
  ])('completes with %o', async (faults) => {
    const h = await start({ fake: { faults, retiredAppsRun: true } });
    for (const model of ['wan2.1', 'wan2.2-lightning'] as const) {
      const r = await runToVideo(h, { model });
      expect(r.bytes.equals(h.fake.video)).toBe(true);
      expectSaneProgress(r.events);
      if (faults.outputShape === 'object') {
        expect(r.output).toMatchObject({ contentType: 'video/mp4', bytes: h.fake.video.length });
      }
    }
    expect(h.fake.tasksCreated()).toBe(2);
  });

  it.each<Partial<FakeFaults>>([{ numbering: 'old' }, { statusForm: 'string' }, {}])(
    'a failure with %o carries the error text',
    async (faults) => {
      const h = await start({
        fake: { faults: { ...faults, failTask: 'no active workers with matching resources' } },
      });
      const job = h.job();
      const { ref } = await submit(h.backend, job);
      const { error } = await followCatching(h.backend, ref, job);
      expect(error).toBeInstanceOf(UserFacingError);
      expect((error as Error).message).toContain('no active workers with matching resources');
    },
  );

  it.each<Partial<FakeFaults>>([{ numbering: 'old' }, { statusForm: 'string' }])(
    'a cancel with %o ends in CancelledError',
    async (faults) => {
      const h = await start({ fake: { faults: { ...faults, pauseAt: 7 } } });
      const job = h.job();
      const { ref } = await submit(h.backend, job);
      const following = followCatching(h.backend, ref, job);
      await until(
        () => h.fake.task(ref.taskId!)?.status !== undefined && count(h, '/stream') > 0,
        'the stream',
      );
      await until(
        () => JSON.stringify(h.fake.task(ref.taskId!)?.status).match(/7|running/) !== null,
        'running',
      );
      await h.backend.cancel(ref, job.log);
      const { error } = await following;
      expect(error).toBeInstanceOf(CancelledError);
    },
  );

  it('v1 error bodies still give actionable messages', async () => {
    const h = await start({ fake: { faults: { errorShape: 'v1' }, apps: ['infsh/wan2-2-i2v-a14b'] } });
    const wrong = h.makeBackend({ apiKey: 'inf_not_the_key_000000' });
    const bad = await submitCatching(wrong, h.job());
    expect(bad.error).toBeInstanceOf(ConfigurationError);
    expect((bad.error as Error).message).toMatch(
      /HTTP 401 unauthorized: invalid API key\).*INFERENCE_API_KEY/,
    );
    const missing = await submitCatching(h.backend, h.job({ model: 'wan2.2-5b' }));
    expect((missing.error as Error).message).toMatch(
      /^model unavailable: inference.sh has no app infsh\/wan2-2-i2v-5b/,
    );
  });
});

describe('stream faults (§6) and the polling fallback (§7)', () => {
  /** Holds the task at "running" until `ready` (the fault has visibly happened), then lets it finish. */
  async function runHeld(h: Harness, ready: () => boolean, what: string) {
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const following = followCatching(h.backend, ref, job);
    await until(ready, what);
    h.fake.resume();
    const { events, error } = await following;
    expect(error).toBeUndefined();
    expectSaneProgress(events);
    const last = events.at(-1)!;
    if (last.type !== 'completed') throw new Error('not completed');
    const video = await h.backend.download(last.output, new AbortController().signal);
    expect((await readAll(video.stream)).equals(h.fake.video)).toBe(true);
    expect(h.fake.tasksCreated()).toBe(1);
  }

  it.each<[string, Partial<FakeFaults>]>([
    ['drops mid-task', { streamDrops: 3 }],
    ['goes silent, heartbeats included', { streamSilences: 1 }],
    ['ends before the terminal line', { streamEarlyEnds: 3 }],
    ['answers 503', { serverErrors: { count: 2, route: 'stream' } }],
  ])('the stream %s: reconnects after a resync and completes the same task', async (_name, faults) => {
    const h = await start({ fake: { faults: { ...faults, pauseAt: 7 } } });
    await runHeld(h, () => count(h, '/stream') >= 2, 'a reconnect');
    expect(count(h, '/stream')).toBeGreaterThan(1);
    // Every reconnect was preceded by a resync (GET /tasks/{id}).
    const paths = h.fake.requests().map((r) => r.path);
    for (let i = 1; i < paths.length; i += 1) {
      if (
        paths[i]!.endsWith('/stream') &&
        paths.slice(0, i).filter((p) => p.endsWith('/stream')).length > 0
      ) {
        const before = paths.slice(0, i).reverse();
        expect(before.find((p) => p.startsWith('/tasks/'))).toMatch(/^\/tasks\/\w+$/);
      }
    }
  });

  /** The requests after the first stream opened, as `stream`, `task` (GET /tasks/{id}) or `status`. */
  const afterFirstStream = (h: Harness) => {
    const paths = h.fake
      .requests()
      .map((r) => r.path)
      .filter((path) => path.startsWith('/tasks/'));
    return paths
      .slice(paths.findIndex((path) => path.endsWith('/stream')))
      .map((path) => (path.endsWith('/stream') ? 'stream' : path.endsWith('/status') ? 'status' : 'task'));
  };

  it('by default calls a stream dead within 15 s of silence, later than the 10 s between heartbeats', () => {
    expect(INFERENCE_DEFAULTS.timeouts.streamSilenceMs).toBeLessThan(15_000);
    expect(INFERENCE_DEFAULTS.timeouts.streamSilenceMs).toBeGreaterThan(10_000);
  });

  it('a silent stream is reconnected once per silence, each time after one status read says the task runs', async () => {
    const h = await start({ fake: { faults: { streamSilences: 2, pauseAt: 7 } } });
    await runHeld(h, () => count(h, '/stream') >= 3, 'two reconnects');
    expect(afterFirstStream(h).slice(0, 5)).toEqual(['stream', 'task', 'stream', 'task', 'stream']);
  });

  it('a task that ended while its stream was silent is finished by the status read, without a reconnect', async () => {
    const h = await start({ fake: { faults: { streamSilences: 1 } } });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const { events, error } = await followCatching(h.backend, ref, job);
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
    expect(afterFirstStream(h)[0]).toBe('stream');
    expect(afterFirstStream(h).slice(1)).not.toContain('stream');
    expect(afterFirstStream(h).slice(1)).toContain('task');
  });

  it('a stream request that gets no answer at all counts as silence: one status read, then a reconnect', async () => {
    // JSON calls may take minutes here: only the silence window can end the wait within the test.
    const h = await start({
      fake: { faults: { streamUnanswered: 1, pauseAt: 7 } },
      backend: { timeouts: { ...FAST.timeouts!, jsonMs: 600_000 } as InferenceTimeouts },
    });
    await runHeld(h, () => count(h, '/stream') >= 2, 'a reconnect');
    expect(afterFirstStream(h).slice(0, 3)).toEqual(['stream', 'task', 'stream']);
  });

  it.each<[string, Partial<FakeFaults>]>([
    ['keeps going silent', { streamSilences: 100 }],
    ['keeps answering 503', { serverErrors: { count: 1000, route: 'stream' } }],
  ])('when the stream %s past the reconnect budget, polling finishes the job', async (_name, faults) => {
    const h = await start({ fake: { faults: { ...faults, pauseAt: 7 } } });
    await runHeld(h, () => count(h, '/status') > 0, 'polling');
    expect(count(h, '/stream')).toBe(3); // the first try and a budget of two reconnects
    expect(count(h, '/status')).toBeGreaterThan(0);
  });

  it('polling backs off over failed polls and continues', async () => {
    const h = await start({ fake: { faults: { streamSilences: 100, pauseAt: 7 } } });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const following = followCatching(h.backend, ref, job);
    await until(() => count(h, '/status') > 0, 'polling');
    h.fake.setFault({ serverErrors: { count: 3, route: 'status', status: 502 } });
    await until(() => h.fake.requests().filter((r) => r.path.endsWith('/status')).length > 5, 'more polls');
    // The full-task fetch after the next status change fails once; the poller must fetch it again.
    h.fake.setFault({ serverErrors: { count: 1, route: 'task', status: 500 } });
    h.fake.resume();
    const { events, error } = await following;
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
  });

  it('heartbeats keep a quiet stream open', async () => {
    const h = await start({
      fake: { heartbeatMs: 10, faults: { pauseAt: 7 } },
      backend: { timeouts: { connectMs: 2_000, jsonMs: 5_000, streamSilenceMs: 1_000, downloadMs: 5_000 } },
    });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const following = followCatching(h.backend, ref, job);
    await until(() => h.fake.task(ref.taskId!)?.status === 7, 'the task to run');
    await sleep(1_500); // longer than the silence timeout, with heartbeats every 10 ms
    h.fake.resume();
    const { error } = await following;
    expect(error).toBeUndefined();
    expect(count(h, '/stream')).toBe(1);
  });

  it('a stream that only sends heartbeats is resynced while open, and ends with the task', async () => {
    const h = await start({
      fake: { heartbeatMs: 10, faults: { streamMutes: 1 } },
      backend: {
        streamResyncMs: 20,
        timeouts: { connectMs: 2_000, jsonMs: 5_000, streamSilenceMs: 1_000, downloadMs: 5_000 },
      },
    });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const { events, error } = await followCatching(h.backend, ref, job);
    expect(error).toBeUndefined();
    expectSaneProgress(events);
    // One stream, never dropped: only the periodic GET /tasks/{id} saw the end.
    expect(count(h, '/stream')).toBe(1);
    expect(h.fake.task(ref.taskId!)?.status).toBe(10);
  }, 20_000);

  it('gives up with a TransientError once the follow deadline passes, without cancelling the task', async () => {
    const h = await start({ fake: { faults: { pauseAt: 7 } }, backend: { followDeadlineMs: 300 } });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const { error } = await followCatching(h.backend, ref, job);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(
      new RegExp(`task ${ref.taskId} has not finished 0\\.3 s after it was submitted.*stopped following it`),
    );
    expect(h.fake.task(ref.taskId!)?.status).toBe(7);
    expect(count(h, '/cancel')).toBe(0);

    // A task that ended is still reported when followed after the deadline.
    h.fake.resume();
    await until(() => h.fake.task(ref.taskId!)?.status === 10, 'the task to complete');
    const late = await followCatching(h.backend, ref, job);
    expect(late.error).toBeUndefined();
    expect(late.events.at(-1)?.type).toBe('completed');
  }, 20_000);

  it('a follow for a task the service does not know fails at once', async () => {
    const h = await start();
    const { error } = await followCatching(
      h.backend,
      { backend: 'inference', state: 'submitted', taskId: 'nope', submittedAt: 1 },
      h.job(),
    );
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toMatch(/no longer knows task nope/);
  });
});

describe('rate limits and server errors (§13)', () => {
  it('a 429 burst on run is retried after Retry-After; one task exists', async () => {
    const h = await start({ fake: { faults: { rateLimit: { count: 2, route: 'run', retryAfterSec: 0 } } } });
    const r = await runToVideo(h);
    expect(r.bytes.equals(h.fake.video)).toBe(true);
    expect(h.fake.runRequests()).toHaveLength(3);
    expect(h.fake.tasksCreated()).toBe(1);
  });

  it('a 429 with only X-RateLimit-Reset waits for the reset and continues', async () => {
    const h = await start({ fake: { faults: { rateLimit: { count: 1, route: 'files' } } } });
    const r = await runToVideo(h);
    expect(r.bytes.equals(h.fake.video)).toBe(true);
    expect(count(h, '/files')).toBe(2);
  });

  it('a 429 that outlasts the retries is a TransientError with nothing created', async () => {
    const h = await start({
      fake: { faults: { rateLimit: { count: 100, route: 'run', retryAfterSec: 0 } } },
    });
    const { error } = await submitCatching(h.backend, h.job());
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/rate limiting/);
    expect(h.fake.runRequests()).toHaveLength(3);
    expect(h.fake.tasksCreated()).toBe(0);
  });

  it('an abort during the wait between run attempts stops at once, sends nothing more and is not ambiguous', async () => {
    const h = await start({
      fake: { faults: { rateLimit: { count: 100, route: 'run', retryAfterSec: 3 } } },
    });
    const controller = new AbortController();
    const persisted: string[] = [];
    const submitting = h.backend
      .submit(
        h.job(),
        { persist: async (r) => void persisted.push(r.state), progress: () => {} },
        controller.signal,
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    await until(() => h.fake.runRequests().length === 1, 'the first run request');
    controller.abort(new Error('shutdown'));
    const error = await submitting;
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(AmbiguousSubmitError);
    expect((error as Error).message).toBe('shutdown');
    expect(persisted).toEqual(['submitting']);
    expect(h.fake.runRequests()).toHaveLength(1);
    expect(h.fake.tasksCreated()).toBe(0);
  });

  it('5xx bursts on idempotent calls are retried', async () => {
    const h = await start({ fake: { faults: { serverErrors: { count: 2, route: 'files', status: 502 } } } });
    const r = await runToVideo(h);
    expect(r.bytes.equals(h.fake.video)).toBe(true);
    h.fake.setFault({ serverErrors: { count: 2, route: 'task', status: 500 } });
    const again = await runToVideo(h);
    expect(again.bytes.equals(h.fake.video)).toBe(true);
    h.fake.setFault({ serverErrors: { count: 2, route: 'output', status: 503 } });
    const third = await runToVideo(h);
    expect(third.bytes.equals(h.fake.video)).toBe(true);
    expect(h.fake.tasksCreated()).toBe(3);
  });

  it('5xx that outlasts the retries is a TransientError', async () => {
    const h = await start({ fake: { faults: { serverErrors: { count: 100, route: 'files' } } } });
    const { error, persisted } = await submitCatching(h.backend, h.job());
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/POST \/files, HTTP 503/);
    expect(persisted).toEqual([]);
  });

  it('the upload PUT is retried on 5xx and sent again to a fresh URL after a 403', async () => {
    const h = await start({ fake: { faults: { serverErrors: { count: 1, route: 'upload', status: 500 } } } });
    await runToVideo(h);
    expect(h.fake.requests().filter((r) => r.method === 'PUT')).toHaveLength(2);
    expect(count(h, '/files')).toBe(1);
    h.fake.setFault({ serverErrors: { count: 1, route: 'upload', status: 403 } });
    const r = await runToVideo(h);
    expect(r.bytes.equals(h.fake.video)).toBe(true);
    expect(h.fake.requests().filter((r) => r.method === 'PUT')).toHaveLength(4);
    expect(count(h, '/files')).toBe(3);
  });
});

describe('network failures', () => {
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  it('a refused run is retried (it never left) and ends as TransientError, not ambiguous', async () => {
    const port = await closedPort();
    const dispatcher = new Agent();
    const http = new InferenceHttp({
      apiUrl: `http://127.0.0.1:${port}`,
      apiKey: 'inf_fake_0123456789abcdef',
      dispatcher,
      timeouts: { connectMs: 1_000, jsonMs: 1_000, streamSilenceMs: 1_000, downloadMs: 1_000 },
      retry: { attempts: 3, baseMs: 1, maxMs: 2, maxWaitMs: 100 },
      userAgent: 'test',
    });
    const error = await http
      .json('POST', '/apps/run', { body: { app: 'a/b', input: {} }, mode: 'run' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).not.toBeInstanceOf(AmbiguousSubmitError);
    expect((error as Error).message).toMatch(/ECONNREFUSED.*after 3 attempts/);
    await dispatcher.close();
  });

  it('an unreachable API fails submit with a TransientError before anything is persisted', async () => {
    const h = await start();
    const port = await closedPort();
    const down = h.makeBackend({ apiUrl: `http://127.0.0.1:${port}` });
    const { error, persisted } = await submitCatching(down, h.job());
    expect(error).toBeInstanceOf(TransientError);
    expect(persisted).toEqual([]);
  });

  it('a run that times out after sending is ambiguous', async () => {
    const server = createServer((socket) => socket.on('data', () => {})); // accepts, never answers
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const dispatcher = new Agent();
    const http = new InferenceHttp({
      apiUrl: `http://127.0.0.1:${port}`,
      apiKey: 'inf_fake_0123456789abcdef',
      dispatcher,
      timeouts: { connectMs: 1_000, jsonMs: 100, streamSilenceMs: 1_000, downloadMs: 1_000 },
      retry: { attempts: 3, baseMs: 1, maxMs: 2, maxWaitMs: 100 },
      userAgent: 'test',
    });
    const error = await http
      .json('POST', '/apps/run', { body: { app: 'a/b', input: {} }, mode: 'run' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(AmbiguousSubmitError);
    await dispatcher.destroy();
    server.close();
  });
});
