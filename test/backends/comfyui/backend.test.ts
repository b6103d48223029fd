import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ComfyBackend } from '../../../src/backends/comfyui/backend.js';
import { DOWN_MESSAGE } from '../../../src/backends/comfyui/pool.js';
import { DurationHistory } from '../../../src/backends/durations.js';
import {
  CancelledError,
  ConfigurationError,
  TransientError,
  UserFacingError,
} from '../../../src/core/errors.js';
import type { RemoteTaskRef } from '../../../src/core/job.js';
import type { StoredImage } from '../../../src/core/request.js';
import { type FakeComfy, fakeMp4, startFakeComfy } from '../../fakes/comfyui/index.js';
import {
  collect,
  fastOptions,
  makeInputs,
  makeJob,
  makeRequest,
  progressEvents,
  readAll,
  recordingHooks,
  silentLog,
  storePng,
  waitUntil,
} from '../../support/comfyui-harness.js';

const VIDEO = fakeMp4(64 * 1024);
let env: Awaited<ReturnType<typeof makeInputs>>;
let image: StoredImage;
const open: { fakes: FakeComfy[]; backends: ComfyBackend[] } = { fakes: [], backends: [] };

async function fake(options: Parameters<typeof startFakeComfy>[0] = {}) {
  const server = await startFakeComfy({ video: VIDEO, stepDelayMs: 2, nodeDelayMs: 1, ...options });
  open.fakes.push(server);
  return server;
}

function backend(...args: Parameters<typeof fastOptions>) {
  const instance = new ComfyBackend(fastOptions(...args));
  open.backends.push(instance);
  return instance;
}

const signal = () => AbortSignal.timeout(30_000);

beforeAll(async () => {
  env = await makeInputs();
  image = await storePng(env.inputs, 1280, 720);
});

afterEach(async () => {
  await Promise.all(open.backends.splice(0).map((b) => b.close()));
  await Promise.all(open.fakes.splice(0).map((f) => f.close()));
});

afterAll(async () => {
  await env.cleanup();
});

describe('ComfyBackend happy path', () => {
  it('submits, follows step progress to completion and downloads the served mp4', async () => {
    const server = await fake();
    const durations = new DurationHistory(env.redis, env.prefix);
    const comfy = backend([{ url: server.url, headers: { 'x-proxy-token': 'secret-token' } }], { durations });
    const job = makeJob(makeRequest(image, { negative_prompt: 'blurry', guidance_scale: 4.5 }), env.inputs);
    let submittedWhenPersisting = -1;
    const hooks = recordingHooks((ref) => {
      if (ref.state === 'submitting') submittedWhenPersisting = server.promptsSubmitted().length;
    });

    const ref = await comfy.submit(job, hooks, signal());
    expect(ref).toMatchObject({ backend: 'comfyui', state: 'submitted', server: server.url });
    expect(ref.taskId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(hooks.persisted.map((r) => r.state)).toEqual(['submitting', 'submitted']);
    expect(hooks.persisted[0]!.taskId).toBe(ref.taskId);
    expect(submittedWhenPersisting).toBe(0);

    const { events, error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    const last = events.at(-1)!;
    expect(last.type).toBe('completed');
    const progress = progressEvents(events);
    const percents = progress.flatMap((p) => (p.percent === undefined ? [] : [p.percent]));
    expect(percents.length).toBeGreaterThan(3);
    for (let i = 1; i < percents.length; i += 1)
      expect(percents[i]!).toBeGreaterThanOrEqual(percents[i - 1]!);
    // The backend never reports 100: the video is not downloaded yet; the worker writes 100 on delivery.
    expect(percents.at(-1)).toBe(99);
    expect(percents.every((p) => p <= 99)).toBe(true);
    expect(progress.some((p) => p.detail === 'step 3/6')).toBe(true);
    expect(progress.some((p) => p.phase === 'running' && p.etaAt !== undefined)).toBe(true);

    // The graph the server got follows the request and the image's aspect ratio.
    const [prompt] = server.promptsSubmitted();
    expect(prompt!.promptId).toBe(ref.taskId);
    expect(prompt!.clientId).toBe(comfy.clientId);
    const graph = prompt!.graph;
    expect(graph['7']!.inputs!.text).toBe(job.request.prompt);
    expect(graph['8']!.inputs!.text).toBe('blurry');
    expect(graph['9']!.inputs).toMatchObject({ width: 832, height: 464, length: 33 });
    expect(graph['11']!.inputs).toMatchObject({ seed: 184467, steps: 6, cfg: 4.5, sampler_name: 'uni_pc' });
    expect(graph['5']!.inputs!.image).toBe(`kinema/${ref.taskId}_start.png`);
    expect(server.uploads()).toHaveLength(1);

    // Extra headers on every call and on the socket upgrade, and never an Origin header.
    const requests = server.requests();
    expect(requests.every((r) => r.headers['x-proxy-token'] === 'secret-token')).toBe(true);
    expect(requests.some((r) => r.path === '/ws')).toBe(true);
    expect(requests.some((r) => r.headers.origin !== undefined)).toBe(false);

    if (last.type !== 'completed') throw new Error('not completed');
    const video = await comfy.download(last.output, signal());
    expect(video.contentType).toBe('video/mp4');
    expect(video.bytes).toBe(VIDEO.length);
    expect((await readAll(video.stream)).equals(VIDEO)).toBe(true);

    const key = 'comfyui:i2v:480p:33f:6s';
    expect((await durations.estimate(key, 0)).samples).toBe(1);
  });
});

describe('ComfyBackend routes and re-attach', () => {
  it('works behind an /api path prefix and with a fully cached run', async () => {
    const server = await fake({ scenario: 'cached' });
    const comfy = backend([`${server.url}/api`]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    const { events, error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
    expect(server.requests().some((r) => r.path === '/api/prompt')).toBe(true);
    expect(server.requests().some((r) => r.path === '/api/ws')).toBe(true);

    // Downloads are bounded: a backend with a smaller limit refuses the same file.
    const last = events.at(-1)!;
    if (last.type !== 'completed') throw new Error('not completed');
    const strict = backend([`${server.url}/api`], { maxOutputBytes: 1024 });
    const refused = await strict.download(last.output, signal()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UserFacingError);
    expect((refused as Error).message).toBe('the finished video is larger than 1 KiB');
  });

  it('re-attaches from another process (no events for it) and finishes through history', async () => {
    const server = await fake({ stepDelayMs: 10 });
    const first = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await first.submit(job, recordingHooks(), signal());
    const second = backend([server.url], { historyPollMs: 40 });
    const { events, error } = await collect(second.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
    expect(server.promptsSubmitted()).toHaveLength(1);
  });

  it('resolves a job stored as "submitting" whose POST never reached the server', async () => {
    const server = await fake();
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref: RemoteTaskRef = {
      backend: 'comfyui',
      state: 'submitting',
      taskId: randomUUID(),
      server: server.url,
      submittedAt: Date.now(),
    };
    const { events, error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
    expect(server.promptsSubmitted().map((p) => p.promptId)).toEqual([ref.taskId]);
  });

  it('sends URL credentials as a Basic header and never stores them', async () => {
    const server = await fake();
    const comfy = backend([`http://kinema:p%40ss@127.0.0.1:${server.port}/`]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    expect(ref.server).toBe(server.url);
    const { error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    const expected = `Basic ${Buffer.from('kinema:p@ss').toString('base64')}`;
    expect(server.requests().every((r) => r.headers.authorization === expected)).toBe(true);
  });

  it('renders a first-and-last-frame job with both images and the FLF graph', async () => {
    const server = await fake();
    const comfy = backend([server.url], { models: { flfUnet: 'wan2.1_flf2v_720p_14B_fp16.safetensors' } });
    const end = await storePng(env.inputs, 1280, 720);
    const job = makeJob(makeRequest(image, { end_frame: end }), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    const { events, error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
    const graph = server.promptsSubmitted()[0]!.graph;
    expect(graph['9']!.class_type).toBe('WanFirstLastFrameToVideo');
    expect(graph['1']!.inputs!.unet_name).toBe('wan2.1_flf2v_720p_14B_fp16.safetensors');
    expect(graph['15']!.inputs!.image).toBe(`kinema/${ref.taskId}_end.png`);
    expect(
      server
        .uploads()
        .map((u) => u.name)
        .sort(),
    ).toEqual([`${ref.taskId}_end.png`, `${ref.taskId}_start.png`]);
  });

  it('does not queue a duplicate when the POST /prompt answer is lost', async () => {
    const server = await fake({ resetPromptResponses: 1 });
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    expect(ref.state).toBe('submitted');
    const { error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    expect(server.promptsSubmitted()).toHaveLength(1);
  });

  it('refuses a download from a server that is not configured', async () => {
    const server = await fake();
    const comfy = backend([server.url]);
    const location = JSON.stringify({
      server: 'http://evil.example:8188',
      filename: 'a.mp4',
      subfolder: '',
      type: 'output',
    });
    await expect(comfy.download({ location }, signal())).rejects.toBeInstanceOf(ConfigurationError);
  });
});

describe('ComfyBackend failures', () => {
  it('reports a weights file the server lacks (validation 400) by name and does not retry', async () => {
    const server = await fake();
    const comfy = backend([server.url]);
    expect((await comfy.preflight())[0]!.ok).toBe(true);
    // The file disappears after the preflight: POST /prompt is the one that finds out.
    server.configure({ models: { diffusion_models: [] } });
    const job = makeJob(makeRequest(image), env.inputs);
    const error = await comfy.submit(job, recordingHooks(), signal()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      'the GPU worker is missing model file wan2.1_i2v_480p_14B_fp16.safetensors',
    );
    expect(server.requests().filter((r) => r.method === 'POST' && r.path === '/prompt')).toHaveLength(1);
    expect(server.promptsSubmitted()).toHaveLength(0);
  });

  it('turns execution_error into a user-facing failure, and OutOfMemory into the memory advice', async () => {
    const server = await fake({ scenario: 'execution_error' });
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    const failed = await collect(comfy.follow(ref, job, signal()));
    expect(failed.error).toBeInstanceOf(UserFacingError);
    expect((failed.error as Error).message).toBe(
      'the GPU server failed while rendering the video (in KSampler)',
    );

    server.setScenario('oom');
    const again = await comfy.submit(job, recordingHooks(), signal());
    const oom = await collect(comfy.follow(again, job, signal()));
    expect(oom.error).toBeInstanceOf(UserFacingError);
    expect((oom.error as Error).message).toBe(
      'the GPU ran out of memory, try a lower resolution or fewer frames',
    );
  });

  it('ends with CancelledError when the server interrupts the run', async () => {
    const server = await fake({ scenario: 'interrupt' });
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    const { error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeInstanceOf(CancelledError);
  });

  it('cancels a prompt still waiting in the queue', async () => {
    const server = await fake({ paused: true });
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    let queued = false;
    const following = collect(comfy.follow(ref, job, signal()), (event) => {
      if (event.type === 'progress' && event.progress.backendQueuePosition === 1) queued = true;
    });
    await waitUntil(() => queued, 10_000, 'queue position 1');
    await comfy.cancel(ref, silentLog);
    const { error, events } = await following;
    expect(error).toBeInstanceOf(CancelledError);
    expect(
      progressEvents(events).some((p) => p.phase === 'submitted' && p.detail === 'number 1 in the GPU queue'),
    ).toBe(true);
    expect(server.queueIds()).toEqual({ running: undefined, pending: [] });
    expect(server.historyIds()).not.toContain(ref.taskId);
    server.resume();
  });

  it('cancels a running prompt with a targeted interrupt', async () => {
    const server = await fake({ holdAtStep: 3 });
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    let stepping = false;
    const following = collect(comfy.follow(ref, job, signal()), (event) => {
      if (event.type === 'progress' && event.progress.detail === 'step 2/6') stepping = true;
    });
    await waitUntil(() => stepping, 10_000, 'step 2');
    await comfy.cancel(ref, silentLog);
    const { error } = await following;
    expect(error).toBeInstanceOf(CancelledError);
    expect(server.requests().some((r) => r.method === 'POST' && r.path === '/interrupt')).toBe(true);
    expect(server.historyIds()).toContain(ref.taskId);
  });

  it('does not interrupt when GET /queue does not answer (an old server would stop any running job)', async () => {
    const server = await fake({ holdAtStep: 2 });
    const comfy = backend([server.url], { cancelTimeoutMs: 300 });
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    await waitUntil(() => server.queueIds().running === ref.taskId, 10_000, 'the prompt to run');
    server.configure({ failQueueReads: 1_000_000 });
    await comfy.cancel(ref, silentLog);
    expect(server.requests().some((r) => r.path === '/queue' && r.method === 'POST')).toBe(true);
    expect(server.requests().some((r) => r.path === '/interrupt')).toBe(false);
    expect(server.queueIds().running).toBe(ref.taskId);
    server.configure({ failQueueReads: 0 });
    server.release();
  });

  it('stops following when the signal aborts, without cancelling the remote prompt', async () => {
    const server = await fake({ holdAtStep: 2 });
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    const controller = new AbortController();
    const following = collect(comfy.follow(ref, job, controller.signal), (event) => {
      if (event.type === 'progress' && event.progress.detail === 'step 1/6')
        controller.abort(new Error('shutdown'));
    });
    const { error } = await following;
    expect((error as Error).message).toBe('shutdown');
    expect(server.queueIds().running).toBe(ref.taskId);
    expect(server.requests().some((r) => r.path === '/interrupt')).toBe(false);
    server.release();
  });
});

describe('ComfyBackend recovery', () => {
  it('recovers through history when the socket drops mid-run', async () => {
    // Reconnects are refused far longer than the rest of the run takes: only history can tell the end.
    const server = await fake({ scenario: 'drop_socket', dropSocketForMs: 1_000, stepDelayMs: 5 });
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image, { num_inference_steps: 12 }), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    const { events, error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
    expect(server.promptsSubmitted()).toHaveLength(1);
    const details = progressEvents(events).map((p) => p.detail);
    expect(details).toContain('step 1/12');
    expect(details).not.toContain('step 12/12');
  });

  it('resubmits under the same prompt id when the server restarts mid-job', async () => {
    const server = await fake({ scenario: 'restart', restartDownMs: 200 });
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    const { events, error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    const last = events.at(-1)!;
    expect(last.type).toBe('completed');
    expect(server.promptsSubmitted().map((p) => p.promptId)).toEqual([ref.taskId, ref.taskId]);
    expect(server.requests().filter((r) => r.path === '/upload/image')).toHaveLength(2);
    expect(progressEvents(events).some((p) => p.detail === 'waiting for the GPU server to come back')).toBe(
      true,
    );
    if (last.type !== 'completed') throw new Error('not completed');
    expect((await readAll((await comfy.download(last.output, signal())).stream)).equals(VIDEO)).toBe(true);
  });

  it('resubmits a prompt that vanished from queue and history while the socket still looked connected', async () => {
    // A GPU host crash and restart the client's TCP never noticed: same socket, prompt gone.
    const server = await fake({ holdAtStep: 2 });
    const comfy = backend([server.url]);
    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    let stepping = false;
    const following = collect(comfy.follow(ref, job, signal()), (event) => {
      if (event.type === 'progress' && event.progress.detail === 'step 1/6') stepping = true;
    });
    await waitUntil(() => stepping, 10_000, 'step 1');
    const sockets = server.requests().filter((r) => r.path === '/ws').length;
    server.configure({ holdAtStep: undefined });
    server.forget();
    const { events, error } = await following;
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
    expect(server.promptsSubmitted().map((p) => p.promptId)).toEqual([ref.taskId, ref.taskId]);
    // The socket never dropped: the loss was found by polling, not by a reconnect.
    expect(server.requests().filter((r) => r.path === '/ws')).toHaveLength(sockets);
  });

  it('reconnects a socket that went silent (half-open) while the prompt runs', async () => {
    // History polls are far apart here, so only a reconnected socket brings the end in time.
    const server = await fake({ scenario: 'mute_socket', stepDelayMs: 5 });
    const comfy = backend([server.url], { historyPollMs: 120_000, socketIdleMs: 100 });
    const job = makeJob(makeRequest(image, { num_inference_steps: 12 }), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    const { events, error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
    expect(server.requests().filter((r) => r.path === '/ws').length).toBeGreaterThan(1);
    expect(server.promptsSubmitted()).toHaveLength(1);
  }, 20_000);

  it('finishes a prompt whose socket went silent (half-open) by asking history, without a reconnect', async () => {
    // History is not polled on its timer and the socket is never reconnected: only the silence check is left.
    const server = await fake({ scenario: 'mute_socket', stepDelayMs: 5 });
    const comfy = backend([server.url], { historyPollMs: 120_000, socketIdleMs: 0, silentCheckMs: 100 });
    const job = makeJob(makeRequest(image, { num_inference_steps: 12 }), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    const sockets = server.requests().filter((r) => r.path === '/ws').length;
    const { events, error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    expect(events.at(-1)?.type).toBe('completed');
    expect(server.requests().filter((r) => r.path === '/ws')).toHaveLength(sockets);
    expect(server.promptsSubmitted()).toHaveLength(1);
  }, 20_000);

  it('sends the job to the healthy server when another is down, and health() says so', async () => {
    const down = await fake();
    await down.stop();
    const up = await fake({ scenario: 'gifs' });
    const comfy = backend([down.url, up.url]);
    const health = await comfy.health();
    expect(health.ok).toBe(true);
    expect(health.message).toContain('1 of 2 ComfyUI servers unavailable');
    expect(health.message).toContain(`127.0.0.1:${down.port}`);

    const job = makeJob(makeRequest(image), env.inputs);
    const ref = await comfy.submit(job, recordingHooks(), signal());
    expect(ref.server).toBe(up.url);
    const { events, error } = await collect(comfy.follow(ref, job, signal()));
    expect(error).toBeUndefined();
    const last = events.at(-1)!;
    if (last.type !== 'completed') throw new Error('not completed');
    expect(JSON.parse(last.output.location)).toMatchObject({
      server: up.url,
      subfolder: 'kinema',
      type: 'output',
    });
    expect((await readAll((await comfy.download(last.output, signal())).stream)).equals(VIDEO)).toBe(true);
  });

  it('is unhealthy and refuses work when no server answers', async () => {
    const down = await fake();
    await down.stop();
    const comfy = backend([down.url]);
    expect(await comfy.health()).toEqual({ ok: false, message: DOWN_MESSAGE });
    const job = makeJob(makeRequest(image), env.inputs);
    const error = await comfy.submit(job, recordingHooks(), signal()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toBe(DOWN_MESSAGE);
  });

  it('preflight names a missing node and a missing weights file', async () => {
    const server = await fake({
      missingNodes: ['WanImageToVideo'],
      models: { vae: ['wan2.2_vae.safetensors'] },
    });
    const comfy = backend([server.url]);
    const [report] = await comfy.preflight();
    expect(report).toMatchObject({ ok: false, reachable: true, version: '0.3.64' });
    expect(report!.problems.some((p) => p.includes('has no WanImageToVideo node'))).toBe(true);
    expect(
      report!.problems.some((p) => p.includes('missing model file wan_2.1_vae.safetensors (models/vae)')),
    ).toBe(true);
    // It says what to change, and what the server does have.
    expect(report!.problems.join('\n')).toMatch(
      /set COMFYUI_VAE to a file the server has \(e\.g\. wan2\.2_vae\.safetensors\)/,
    );
    const health = await comfy.health();
    expect(health.ok).toBe(false);
    expect(health.message).toContain('WanImageToVideo');
    const job = makeJob(makeRequest(image), env.inputs);
    await expect(comfy.submit(job, recordingHooks(), signal())).rejects.toBeInstanceOf(ConfigurationError);
    expect(server.promptsSubmitted()).toHaveLength(0);
  });
});
