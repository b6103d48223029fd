import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BackendEvent, BackendProgress } from '../../../src/backends/backend.js';
import { durationKey } from '../../../src/backends/inference-sh/progress.js';
import {
  AmbiguousSubmitError,
  CancelledError,
  ConfigurationError,
  UserFacingError,
} from '../../../src/core/errors.js';
import type { GenerationRequest, ModelId } from '../../../src/core/request.js';
import {
  collect,
  followCatching,
  type Harness,
  harnessPerTest,
  makePng,
  readAll,
  runToVideo,
  submit,
  submitCatching,
  until,
} from '../../support/inference-sh-harness.js';

const start = harnessPerTest();

const progressOf = (events: BackendEvent[]): BackendProgress[] =>
  events.flatMap((e) => (e.type === 'progress' ? [e.progress] : []));

function expectSaneProgress(events: BackendEvent[]) {
  const percents = progressOf(events).map((p) => p.percent ?? 0);
  for (let i = 1; i < percents.length; i += 1) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1]!);
  for (const percent of percents) expect(percent).toBeLessThan(100);
  expect(events.at(-1)?.type).toBe('completed');
  expect(events.filter((e) => e.type === 'completed')).toHaveLength(1);
}

/** The settings every happy-path run gives, so the per-app mapping of wan-apps.md §6 shows. */
const SETTINGS: Partial<GenerationRequest> = {
  negative_prompt: 'blurry, static',
  size: '832x480',
  num_frames: 81,
  fps: 16,
  num_inference_steps: 30,
  guidance_scale: 5,
  seed: 184467,
};

describe('happy path, one per model (wan-apps.md §6)', () => {
  const uploaded = expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/files\/f_\w+\/cat\.png$/);
  const cases: { model: ModelId; app: string; input: Record<string, unknown>; ignored: string[] }[] = [
    {
      model: 'wan2.1',
      app: 'infsh/wan2-1-i2v',
      input: {
        prompt: 'the cat turns its head and blinks slowly',
        negative_prompt: 'blurry, static',
        input_image: uploaded,
        size: '832x480',
        num_frames: 81,
        num_inference_steps: 30,
        guidance_scale: 5,
        seed: 184467,
      },
      ignored: ['fps is not used by Wan 2.1 I2V 14B and was ignored'],
    },
    {
      model: 'wan2.2-a14b',
      app: 'infsh/wan2-2-i2v-a14b',
      input: {
        prompt: 'the cat turns its head and blinks slowly',
        negative_prompt: 'blurry, static',
        image: uploaded,
        resolution: '480p',
        num_frames: 81,
        fps: 16,
        num_inference_steps: 30,
        guidance_scale: 5,
        seed: 184467,
      },
      ignored: [],
    },
    {
      model: 'wan2.2-5b',
      app: 'infsh/wan2-2-i2v-5b',
      input: {
        prompt: 'the cat turns its head and blinks slowly',
        negative_prompt: 'blurry, static',
        image: uploaded,
        resolution: '480p',
        num_frames: 81,
        fps: 16,
        num_inference_steps: 30,
        guidance_scale: 5,
        seed: 184467,
      },
      ignored: [],
    },
    {
      model: 'wan2.2-lightning',
      app: 'infsh/lightning-wan-2-2-i2v-a14b',
      input: {
        prompt: 'the cat turns its head and blinks slowly',
        negative_prompt: 'blurry, static',
        image: uploaded,
        resolution: '480p',
        num_frames: 81,
        fps: 16,
        num_inference_steps: 30,
        seed: 184467,
      },
      ignored: [
        'guidance_scale is not used by Wan 2.2 Lightning A14B and was ignored',
        'negative_prompt is accepted by Wan 2.2 Lightning A14B but has no effect there',
      ],
    },
  ];

  it.each(cases)('$model runs $app with the mapped fields and returns the served mp4', async (c) => {
    const h = await start({ fake: { retiredAppsRun: true } });
    const request = { model: c.model, ...SETTINGS };
    const r = await runToVideo(h, request);

    expect(h.fake.runRequests()).toEqual([{ app: c.app, input: c.input }]);
    expect(h.backend.describeIgnored(r.job.request)).toEqual(c.ignored);
    expect(r.bytes.equals(h.fake.video)).toBe(true);
    expect(r.video.contentType).toBe('video/mp4');
    expect(r.video.bytes).toBe(h.fake.video.length);
    expect(h.fake.tasksCreated()).toBe(1);

    // "submitting" is stored before the paid call, the task id right after it.
    expect(r.persisted).toEqual([
      { backend: 'inference', state: 'submitting', submittedAt: expect.any(Number) },
      {
        backend: 'inference',
        state: 'submitted',
        taskId: r.ref.taskId,
        submittedAt: r.persisted[0]!.submittedAt,
      },
    ]);
    expect(r.progress.map((p) => p.phase)).toEqual(['uploading', 'submitted']);
    expectSaneProgress(r.events);
    const details = progressOf(r.events).map((p) => p.detail);
    expect(details.some((d) => d?.startsWith('generating'))).toBe(true);
    // The setup log's "Loading checkpoint shards 3/3" is no sampler step.
    expect(details.some((d) => d?.includes('3/3'))).toBe(false);
    expect(r.output.location).toMatch(new RegExp(`^${h.fake.storageOrigin}/outputs/`));

    // The uploaded bytes are the stored PNG, and the completed run taught the duration history.
    expect([...h.fake.uploads().values()][0]?.equals(h.png)).toBe(true);
    const learned = await h.durations.estimate(durationKey(r.job.request, c.app), 1);
    expect(learned.samples).toBe(1);
  });

  it('sends the API key only to the API, with the headers of §1 and §10', async () => {
    const h = await start();
    await runToVideo(h);
    const requests = h.fake.requests();
    for (const r of requests.filter((r) => r.origin === 'api')) {
      expect(r.headers.authorization).toBe(`Bearer ${h.fake.apiKey}`);
      expect(r.headers['x-api-version']).toBeUndefined();
    }
    const storage = requests.filter((r) => r.origin === 'storage');
    expect(storage.map((r) => r.method).sort()).toEqual(['GET', 'PUT']);
    for (const r of storage) expect(r.headers.authorization).toBeUndefined();
    const put = storage.find((r) => r.method === 'PUT')!;
    expect(put.headers['content-length']).toBe(String(h.png.length));
    expect(put.headers['transfer-encoding']).toBeUndefined();
    expect(put.headers['content-type']).toBe('image/png');
    const stream = requests.find((r) => r.path.endsWith('/stream'))!;
    expect(stream.headers.accept).toBe('application/x-ndjson');
    const files = requests.find((r) => r.path === '/files')!;
    expect(JSON.parse(files.body)).toEqual({
      files: [{ uri: '', filename: 'cat.png', content_type: 'image/png', size: h.png.length }],
    });
  });

  it('uploads an end frame into the app field of each model', async () => {
    const h = await start({ fake: { retiredAppsRun: true } });
    const other = await makePng('#c0392b');
    const end = await h.inputs.save({
      bytes: other,
      contentType: 'image/png',
      width: 8,
      height: 6,
      filename: 'end.png',
    });
    await runToVideo(h, { model: 'wan2.2-a14b', end_frame: end });
    await runToVideo(h, { model: 'wan2.1', end_frame: end });
    const [a14b, wan21] = h.fake.runRequests();
    expect(a14b?.input.end_image).toMatch(/\/end\.png$/);
    expect(wan21?.input.end_frame).toMatch(/\/end\.png$/);
    expect(wan21?.input.end_image).toBeUndefined();
    expect([...h.fake.uploads().values()].some((b) => b.equals(other))).toBe(true);
  });

  it('keeps a pinned @version of the configured app, and uses the plain app of other models', async () => {
    const h = await start();
    const pinned = h.makeBackend({ app: 'infsh/wan2-2-i2v-a14b@v_1' });
    await runToVideo(h, { model: 'wan2.2-a14b' }, pinned);
    await runToVideo(h, { model: 'wan2.2-5b' }, pinned);
    expect(h.fake.runRequests().map((r) => r.app)).toEqual([
      'infsh/wan2-2-i2v-a14b@v_1',
      'infsh/wan2-2-i2v-5b',
    ]);
  });

  it('never writes the API key to its logs', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    const h = await start({
      fake: { faults: { streamDrops: 1, rateLimit: { count: 1, retryAfterSec: 0 } } },
    });
    const job = { ...h.job(), log: pino({ level: 'trace' }, sink) };
    const { ref } = await submit(h.backend, job);
    await collect(h.backend, ref, job);
    await h.backend.cancel(ref, job.log);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(h.fake.apiKey);
  });
});

describe('submit and the signal', () => {
  it('keeps, stores and returns a task whose run was in flight when the signal aborted (e.g. a shutdown)', async () => {
    const h = await start({ fake: { faults: { holdRuns: true } } });
    const controller = new AbortController();
    const submitting = submit(h.backend, h.job(), controller.signal);
    await until(() => h.fake.tasksCreated() === 1, 'the run to create its task');
    controller.abort(new Error('shutdown'));
    h.fake.resume(); // the run's answer arrives only now, after the abort
    const { ref, persisted } = await submitting;

    const [taskId] = h.fake.taskIds();
    expect(ref).toMatchObject({ backend: 'inference', state: 'submitted', taskId });
    expect(persisted.map((p) => [p.state, p.taskId])).toEqual([
      ['submitting', undefined],
      ['submitted', taskId],
    ]);
    // Not cancelled: the worker re-attaches after a shutdown, and cancels only for a user's cancel.
    expect(h.fake.requests().some((r) => r.path.endsWith('/cancel'))).toBe(false);
    const statuses = (h.fake.task(taskId!)!.events as { status: number }[]).map((e) => e.status);
    expect(statuses).not.toContain(8);
    expect(statuses).not.toContain(12);
    expect(h.fake.runRequests()).toHaveLength(1);
  });
});

describe('re-attach', () => {
  it('follows a stored ref to the same task after a restart, creating no second task', async () => {
    const h = await start({ fake: { faults: { pauseAt: 7 } } });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    await until(() => h.fake.task(ref.taskId!)?.status === 7, 'the task to run');

    const restarted = h.makeBackend(); // a new process: only the stored ref survives
    const following = collect(restarted, { ...ref }, job);
    h.fake.resume();
    const events = await following;

    expectSaneProgress(events);
    expect(h.fake.tasksCreated()).toBe(1);
    expect(h.fake.runRequests()).toHaveLength(1);
    // The run time came from the task's events, so it was learned even though the start was missed.
    const learned = await h.durations.estimate(durationKey(job.request, 'infsh/wan2-2-i2v-a14b'), 1);
    expect(learned.samples).toBe(1);
  });

  it('reports a task that finished while nobody followed it', async () => {
    const h = await start();
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    await until(() => h.fake.task(ref.taskId!)?.status === 10, 'the task to complete');
    const events = await collect(h.makeBackend(), ref, job);
    expect(events).toEqual([
      { type: 'completed', output: { location: expect.stringContaining(ref.taskId!) } },
    ]);
    expect(h.fake.tasksCreated()).toBe(1);
  });

  it('refuses to guess when only "submitting" was stored', async () => {
    const h = await start();
    const { error } = await followCatching(
      h.backend,
      { backend: 'inference', state: 'submitting', submittedAt: 1 },
      h.job(),
    );
    expect(error).toBeInstanceOf(AmbiguousSubmitError);
    expect(h.fake.requests()).toHaveLength(0);
  });
});

describe('cancel', () => {
  it('cancels a queued task: 8 then 12, and follow() ends with CancelledError', async () => {
    const h = await start({ fake: { faults: { pauseAt: 2 } } });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const following = followCatching(h.backend, ref, job);
    await until(() => h.fake.task(ref.taskId!)?.status === 2, 'the task to queue');
    await h.backend.cancel(ref, job.log);
    expect(h.fake.task(ref.taskId!)?.status).toBe(12);
    const statuses = (h.fake.task(ref.taskId!)!.events as { status: number }[]).map((e) => e.status);
    expect(statuses.slice(-2)).toEqual([8, 12]);
    const { events, error } = await following;
    expect(error).toBeInstanceOf(CancelledError);
    expect(progressOf(events).every((p) => p.phase === 'submitted' || p.detail === 'finishing')).toBe(true);
    const cancel = h.fake.requests().find((r) => r.path.endsWith('/cancel'))!;
    expect(cancel.method).toBe('POST');
    expect(cancel.body).toBe('');
    expect(cancel.headers['content-length']).toBe('0');
  });

  it('cancels a running task', async () => {
    const h = await start({ fake: { faults: { pauseAt: 7 } } });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const following = followCatching(h.backend, ref, job);
    await until(() => h.fake.task(ref.taskId!)?.status === 7, 'the task to run');
    await h.backend.cancel(ref, job.log);
    expect(h.fake.task(ref.taskId!)?.status).toBe(12);
    const { events, error } = await following;
    expect(error).toBeInstanceOf(CancelledError);
    expect(progressOf(events).some((p) => p.detail?.startsWith('generating'))).toBe(true);
  });

  it('gives up waiting after its bound when the service is slow to cancel', async () => {
    const h = await start({
      fake: { faults: { pauseAt: 7, cancelDelayMs: 60_000 } },
      backend: { cancelWaitMs: 50 },
    });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    await until(() => h.fake.task(ref.taskId!)?.status === 7, 'the task to run');
    await h.backend.cancel(ref, job.log);
    expect(h.fake.task(ref.taskId!)?.status).toBe(8);
  });

  it('looks at the task when cancel is refused because it already finished', async () => {
    const h = await start();
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    await until(() => h.fake.task(ref.taskId!)?.status === 10, 'the task to complete');
    await h.backend.cancel(ref, job.log);
    expect(h.fake.task(ref.taskId!)?.status).toBe(10);
    expect(h.fake.requests().filter((r) => r.path === `/tasks/${ref.taskId}`).length).toBeGreaterThan(0);
  });

  it('stops reading when the signal aborts', async () => {
    const h = await start({ fake: { faults: { pauseAt: 7 } } });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const controller = new AbortController();
    const seen: BackendEvent[] = [];
    const following = (async () => {
      for await (const event of h.backend.follow(ref, job, controller.signal)) {
        seen.push(event);
        if (event.type === 'progress' && event.progress.detail?.startsWith('generating')) controller.abort();
      }
    })();
    await expect(following).rejects.toThrow();
    expect(seen.some((e) => e.type === 'completed')).toBe(false);
    expect(h.fake.task(ref.taskId!)?.status).toBe(7);
  });
});

describe('errors a person can act on', () => {
  it('a bad API key is a ConfigurationError naming INFERENCE_API_KEY, never the key', async () => {
    const h = await start();
    const wrong = h.makeBackend({ apiKey: 'inf_wrong_key_0123456789' });
    const { error, persisted } = await submitCatching(wrong, h.job());
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/INFERENCE_API_KEY is invalid or lacks permission/);
    expect((error as Error).message).not.toContain('inf_wrong_key_0123456789');
    expect(persisted).toEqual([]);
    expect(h.fake.tasksCreated()).toBe(0);
    // No retry of a 401.
    expect(h.fake.requests()).toHaveLength(1);
  });

  it('an unknown app is "model unavailable", naming the app and a way out, and is not retried', async () => {
    const h = await start({
      fake: { apps: ['infsh/wan2-2-i2v-a14b', 'infsh/wan2-2-i2v-5b', 'infsh/lightning-wan-2-2-i2v-a14b'] },
    });
    const wan21 = h.makeBackend({ app: 'infsh/wan2-1-i2v' });
    const { error } = await submitCatching(wan21, h.job({ model: 'wan2.1' }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/^model unavailable: inference.sh has no app infsh\/wan2-1-i2v/);
    expect((error as Error).message).toMatch(/INFERENCE_APP/);
    expect((error as Error).message).toMatch(/wan2\.2-a14b/);
    expect(h.fake.runRequests()).toHaveLength(1);

    const configured = h.makeBackend({ app: 'infsh/wan2-2-i2v-5b' });
    const second = await submitCatching(configured, h.job({ model: 'wan2.1' }));
    expect((second.error as Error).message).toMatch(
      /Use the model wan2\.2-5b \(the configured INFERENCE_APP/,
    );
  });

  it('an input the service cannot fetch fails the job with the service text', async () => {
    const h = await start({ fake: { faults: { loseUploads: true } } });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const { error } = await followCatching(h.backend, ref, job);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toMatch(/failed to download input "image" from http:\/\/127\.0\.0\.1/);
    expect(h.fake.task(ref.taskId!)?.status).toBe(11);
  });

  it('a failed task is a UserFacingError with the error text', async () => {
    const h = await start({ fake: { faults: { failTask: 'CUDA out of memory while decoding' } } });
    const job = h.job();
    const { ref } = await submit(h.backend, job);
    const { error } = await followCatching(h.backend, ref, job);
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toContain('CUDA out of memory while decoding');
  });

  it.each([
    {
      name: '500 after the task was created',
      faults: { serverErrors: { count: 1, route: 'run' as const, status: 500, createTask: true } },
      created: 1,
    },
    {
      name: '503 from a gateway',
      faults: { serverErrors: { count: 5, route: 'run' as const, status: 503 } },
      created: 0,
    },
    { name: 'a reset after the request was sent', faults: { runReset: true }, created: 1 },
    { name: 'a 200 whose body is an HTML page', faults: { runGarbled: 'html' as const }, created: 1 },
    {
      name: 'a 200 carrying a v1 body-level error',
      faults: { runGarbled: 'v1-error' as const },
      created: 1,
    },
  ])('an ambiguous run ($name) is AmbiguousSubmitError and is never resent', async ({ faults, created }) => {
    const h = await start({ fake: { faults } });
    const { error, persisted } = await submitCatching(h.backend, h.job());
    expect(error).toBeInstanceOf(AmbiguousSubmitError);
    expect((error as Error).message).toMatch(/may have been started and billed/);
    expect(h.fake.runRequests()).toHaveLength(1);
    expect(h.fake.tasksCreated()).toBe(created);
    expect(persisted.map((p) => p.state)).toEqual(['submitting']);
  });

  it('412 lists every requirement', async () => {
    const h = await start({
      fake: {
        faults: {
          requirements: [
            { type: 'secret', key: 'HF_TOKEN', message: 'secret HF_TOKEN is not set', action: 'add_secret' },
            { type: 'integration', key: 'storage', message: 'connect a storage integration' },
          ],
        },
      },
    });
    const { error } = await submitCatching(h.backend, h.job());
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('secret HF_TOKEN is not set; connect a storage integration');
    expect(h.fake.tasksCreated()).toBe(0);
  });

  it('400 is a UserFacingError with the service message', async () => {
    const h = await start({ fake: { faults: { extraRequired: 'motion_strength' } } });
    const { error } = await submitCatching(h.backend, h.job());
    expect(error).toBeInstanceOf(UserFacingError);
    expect((error as Error).message).toMatch(
      /inference.sh rejected the request: .*input\.motion_strength is required/,
    );
    expect(h.fake.runRequests()).toHaveLength(1);
  });
});

describe('download', () => {
  const output = (h: Harness, location: string) => ({
    location: location.replace('{storage}', h.fake.storageOrigin),
  });

  it("refuses hosts that are not the API's machine, *.inference.sh or INFERENCE_OUTPUT_HOSTS", async () => {
    const h = await start();
    const signal = new AbortController().signal;
    await expect(
      h.backend.download({ location: 'https://evil.example.com/clip.mp4' }, signal),
    ).rejects.toThrow(/refusing to download the result from evil\.example\.com.*INFERENCE_OUTPUT_HOSTS/);
    const strict = h.makeBackend({ outputHosts: [] });
    await expect(
      strict.download({ location: 'http://192.0.2.7:9000/clip.mp4' }, signal),
    ).rejects.toBeInstanceOf(ConfigurationError);
    // The API's own machine on another port (a storage origin beside a proxied or local API) is trusted.
    expect(strict.isAllowedOutputHost(new URL(`${h.fake.storageOrigin}/outputs/x/clip.mp4`))).toBe(true);
    expect(strict.isAllowedOutputHost(new URL('https://cloud.inference.sh/u/1/outputs/clip.mp4'))).toBe(true);
    expect(strict.isAllowedOutputHost(new URL('https://inference.sh.evil.com/clip.mp4'))).toBe(false);
    expect(strict.isAllowedOutputHost(new URL(`${h.fake.apiUrl}/x.mp4`))).toBe(true);
  });

  it('refuses a result larger than maxOutputBytes, by Content-Length and by counting', async () => {
    const video = Buffer.alloc(4096, 7);
    const h = await start({ fake: { video } });
    const r = await runToVideo(h);
    const small = h.makeBackend({ maxOutputBytes: 1024 });
    const signal = new AbortController().signal;
    await expect(small.download(r.output, signal)).rejects.toThrow(/MAX_OUTPUT_BYTES/);

    h.fake.setFault({ outputChunked: true });
    const opened = await small.download(r.output, signal);
    expect(opened.bytes).toBeUndefined();
    await expect(readAll(opened.stream)).rejects.toThrow(/MAX_OUTPUT_BYTES/);

    const whole = await h.backend.download(r.output, signal);
    expect((await readAll(whole.stream)).equals(video)).toBe(true);
  });

  it('follows up to 5 redirects to allowed hosts, never with the API key, and refuses other hosts', async () => {
    const h = await start();
    const r = await runToVideo(h);
    const signal = new AbortController().signal;
    const via = (to: string) => `${h.fake.storageOrigin}/redirect?to=${encodeURIComponent(to)}`;
    const hops = (n: number, to: string): string => (n === 0 ? to : hops(n - 1, via(to)));

    // Two hops, the inner one a relative Location.
    const twice = await h.backend.download(
      { location: via(via(new URL(r.output.location).pathname)) },
      signal,
    );
    expect((await readAll(twice.stream)).equals(h.fake.video)).toBe(true);
    expect(twice.contentType).toBe('video/mp4');
    const five = await h.backend.download({ location: hops(5, r.output.location) }, signal);
    expect((await readAll(five.stream)).equals(h.fake.video)).toBe(true);
    const storage = h.fake.requests().filter((q) => q.origin === 'storage');
    expect(storage.filter((q) => q.path === '/redirect')).toHaveLength(7);
    for (const q of storage) expect(q.headers.authorization).toBeUndefined();

    const elsewhere = await h.backend
      .download({ location: via('https://evil.example.com/clip.mp4') }, signal)
      .catch((e: unknown) => e);
    expect(elsewhere).toBeInstanceOf(ConfigurationError);
    expect((elsewhere as Error).message).toMatch(
      /refusing to follow the redirect of the result from 127\.0\.0\.1:\d+ to evil\.example\.com/,
    );
    await expect(h.backend.download({ location: hops(6, r.output.location) }, signal)).rejects.toThrow(
      /more than 5 redirects/,
    );
  });

  it('a vanished result is a UserFacingError', async () => {
    const h = await start();
    await expect(
      h.backend.download(output(h, '{storage}/outputs/nope/clip.mp4'), new AbortController().signal),
    ).rejects.toBeInstanceOf(UserFacingError);
  });
});

describe('health', () => {
  it('is ok with a good key and app, and says why otherwise', async () => {
    const h = await start({ fake: { apps: ['infsh/wan2-2-i2v-a14b'] } });
    expect(await h.makeBackend({ app: 'infsh/wan2-2-i2v-a14b' }).health()).toEqual({ ok: true });
    const wrongKey = await h
      .makeBackend({ app: 'infsh/wan2-2-i2v-a14b', apiKey: 'inf_bad_0000000000' })
      .health();
    expect(wrongKey.ok).toBe(false);
    expect(wrongKey.message).toMatch(/INFERENCE_API_KEY/);
    expect((await h.makeBackend({ app: 'infsh/wan2-1-i2v' }).health()).message).toMatch(
      /^model unavailable: inference.sh has no app infsh\/wan2-1-i2v/,
    );
  });
});

describe('checkApp', () => {
  it('finds no mismatch between the adapters and the four published schemas', async () => {
    const h = await start({ fake: { retiredAppsRun: true } });
    for (const model of ['wan2.1', 'wan2.2-a14b', 'wan2.2-5b', 'wan2.2-lightning'] as const) {
      expect(await h.backend.checkApp(model)).toEqual([]);
    }
    expect(await h.backend.checkApp()).toEqual([]);
    expect(await h.backend.checkApps()).toEqual([]);
  });

  it('reports a required field the adapter cannot fill, and a missing app', async () => {
    const h = await start({
      fake: { faults: { extraRequired: 'motion_strength' }, apps: ['infsh/wan2-2-i2v-a14b'] },
    });
    const a14b = h.makeBackend({ app: 'infsh/wan2-2-i2v-a14b@v_1' });
    expect(await a14b.checkApp()).toEqual([
      'app infsh/wan2-2-i2v-a14b@v_1 requires the input field "motion_strength", which the Wan 2.2 I2V A14B adapter does not fill',
    ]);
    const [missing] = await h.backend.checkApp('wan2.1');
    expect(missing).toMatch(/^model unavailable: inference.sh has no app infsh\/wan2-1-i2v/);
  });
});
