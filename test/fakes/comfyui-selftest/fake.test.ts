import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildGraph } from '../../../src/backends/comfyui/graph.js';
import { DEFAULT_MODEL_FILES } from '../../../src/backends/comfyui/model-files.js';
import { DEFAULT_NEGATIVE_PROMPT } from '../../../src/backends/comfyui/options.js';
import { loadTemplate } from '../../../src/backends/comfyui/template.js';
import { waitUntil } from '../../support/comfyui-harness.js';
import { type FakeComfy, type FakeComfyOptions, startFakeComfy } from '../comfyui/index.js';

/** The fake itself speaks the protocol of shared/specs/comfyui-api.md (§2–§6, §11). */

const fakes: FakeComfy[] = [];
const sockets: WebSocket[] = [];

async function fake(options: FakeComfyOptions = {}) {
  const server = await startFakeComfy({ stepDelayMs: 1, nodeDelayMs: 0, ...options });
  fakes.push(server);
  return server;
}

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

interface Listener {
  texts: { type: string; data: Record<string, unknown> }[];
  binary: number;
}

async function listen(server: FakeComfy, clientId: string): Promise<Listener> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws?clientId=${clientId}`);
  sockets.push(ws);
  const listener: Listener = { texts: [], binary: 0 };
  ws.on('message', (data, isBinary) => {
    if (isBinary) listener.binary += 1;
    else listener.texts.push(JSON.parse(String(data)));
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  await waitUntil(() => listener.texts.length > 0, 5_000, 'status on connect');
  return listener;
}

async function upload(server: FakeComfy, name: string) {
  const form = new FormData();
  form.set('image', new Blob([new Uint8Array([137, 80, 78, 71])], { type: 'image/png' }), name);
  form.set('subfolder', 'kinema');
  form.set('overwrite', 'true');
  const response = await fetch(`${server.url}/upload/image`, { method: 'POST', body: form });
  return (await response.json()) as { name: string; subfolder: string; type: string };
}

function graph(startImagePath: string, steps = 4) {
  return buildGraph(
    loadTemplate(undefined, 'i2v'),
    {
      prompt: 'a cat',
      model: 'wan2.1',
      seed: 1,
      num_inference_steps: steps,
      input_image: { key: 'k', contentType: 'image/png', bytes: 4, width: 64, height: 64, filename: 'a.png' },
    },
    { models: { ...DEFAULT_MODEL_FILES }, negativePrompt: DEFAULT_NEGATIVE_PROMPT },
    { startImagePath, jobId: 'job', promptId: 'p' },
  );
}

/** After a restart the client may still hold a pooled connection the old server closed: retry once. */
async function fetchAfterRestart(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return fetch(url, init);
  }
}

const post = (server: FakeComfy, body: unknown, prefix = '') =>
  fetch(`${server.url}${prefix}/prompt`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('fake ComfyUI', () => {
  it('serves every route at / and /api/, and refuses a foreign Origin on loopback', async () => {
    const server = await fake({ missingNodes: ['CFGZeroStar'] });
    for (const prefix of ['', '/api']) {
      const stats = await fetch(`${server.url}${prefix}/system_stats`);
      expect(stats.status).toBe(200);
      expect(((await stats.json()) as { system: { comfyui_version: string } }).system.comfyui_version).toBe(
        '0.3.64',
      );
      expect(await (await fetch(`${server.url}${prefix}/object_info/WanImageToVideo`)).json()).toHaveProperty(
        'WanImageToVideo',
      );
      expect(await (await fetch(`${server.url}${prefix}/object_info/CFGZeroStar`)).json()).toEqual({});
      expect(await (await fetch(`${server.url}${prefix}/models/vae`)).json()).toEqual([
        'wan_2.1_vae.safetensors',
      ]);
      expect(await (await fetch(`${server.url}${prefix}/queue`)).json()).toEqual({
        queue_running: [],
        queue_pending: [],
      });
    }
    const foreign = await fetch(`${server.url}/system_stats`, { headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    expect((await fetch(`${server.url}/view?filename=../x.mp4`)).status).toBe(400);
    expect((await fetch(`${server.url}/view?filename=nope.mp4`)).status).toBe(404);
  });

  it('validates prompts with the §3 error shapes', async () => {
    const server = await fake({ models: { diffusion_models: [] } });
    const none = await post(server, {});
    expect(none.status).toBe(400);
    expect(((await none.json()) as { error: { type: string } }).error.type).toBe('no_prompt');

    const noClass = await post(server, { prompt: { '1': { inputs: {} } } });
    expect(((await noClass.json()) as { error: { type: string } }).error.type).toBe('invalid_prompt');

    await upload(server, 'a.png');
    const missing = await post(server, { prompt: graph('kinema/a.png'), prompt_id: randomUUID() });
    expect(missing.status).toBe(400);
    const body = (await missing.json()) as {
      error: { type: string };
      node_errors: Record<string, { class_type: string; errors: { type: string; details: string }[] }>;
    };
    expect(body.error.type).toBe('prompt_outputs_failed_validation');
    expect(body.node_errors['1']!.class_type).toBe('UNETLoader');
    expect(body.node_errors['1']!.errors[0]).toMatchObject({
      type: 'value_not_in_list',
      details: "unet_name: 'wan2.1_i2v_480p_14B_fp16.safetensors' not in []",
    });
    expect(server.promptsSubmitted()).toHaveLength(0);
  });

  it('runs a prompt with the §6.4 event order, only to its client, with history after the end', async () => {
    const server = await fake({ preview: true });
    const mine = await listen(server, 'client-a');
    const other = await listen(server, 'client-b');
    expect(mine.texts[0]).toEqual({
      type: 'status',
      data: { status: { exec_info: { queue_remaining: 0 } }, sid: 'client-a' },
    });
    const uploaded = await upload(server, 'a.png');
    expect(uploaded).toEqual({ name: 'a.png', subfolder: 'kinema', type: 'input' });
    const promptId = randomUUID();
    const response = await post(
      server,
      { prompt: graph('kinema/a.png'), client_id: 'client-a', prompt_id: promptId },
      '/api',
    );
    expect(await response.json()).toEqual({ prompt_id: promptId, number: 1, node_errors: {} });

    await waitUntil(
      () => mine.texts.some((m) => m.type === 'executing' && m.data.node === null),
      10_000,
      'the final executing',
    );
    const types = mine.texts.filter((m) => m.data.prompt_id === promptId).map((m) => m.type);
    const order = [
      'execution_start',
      'execution_cached',
      'executing',
      'progress',
      'executed',
      'execution_success',
    ];
    const firsts = order.map((type) => types.indexOf(type));
    expect(firsts.every((index) => index >= 0)).toBe(true);
    expect([...firsts].sort((a, b) => a - b)).toEqual(firsts);
    expect(types.at(-1)).toBe('executing');
    const steps = mine.texts
      .filter((m) => m.type === 'progress' && m.data.node === '11')
      .map((m) => m.data.value);
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(mine.binary).toBeGreaterThan(0);
    expect(other.texts.filter((m) => m.data.prompt_id === promptId && m.type !== 'progress_state')).toEqual(
      [],
    );
    expect(other.texts.some((m) => m.type === 'status')).toBe(true);

    const history = (await (await fetch(`${server.url}/history/${promptId}`)).json()) as Record<
      string,
      {
        outputs: Record<string, unknown>;
        status: { status_str: string; completed: boolean; messages: unknown[][] };
      }
    >;
    expect(history[promptId]!.status).toMatchObject({ status_str: 'success', completed: true });
    expect(history[promptId]!.status.messages.map((m) => m[0])).toEqual([
      'execution_start',
      'execution_cached',
      'execution_success',
    ]);
    const output = history[promptId]!.outputs['14'] as { images: { filename: string; subfolder: string }[] };
    expect(output).toMatchObject({ animated: [true], images: [{ subfolder: 'kinema', type: 'output' }] });
    const video = await fetch(
      `${server.url}/view?filename=${encodeURIComponent(output.images[0]!.filename)}&subfolder=kinema&type=output`,
    );
    expect(video.headers.get('content-type')).toBe('video/mp4');
  });

  it('does not de-duplicate, keeps history {} until done, and loses queue and history on restart', async () => {
    const server = await fake({ paused: true });
    await upload(server, 'a.png');
    const promptId = randomUUID();
    await post(server, { prompt: graph('kinema/a.png'), prompt_id: promptId });
    await post(server, { prompt: graph('kinema/a.png'), prompt_id: promptId });
    expect(server.queueIds().pending).toEqual([promptId, promptId]);
    expect(await (await fetch(`${server.url}/history/${promptId}`)).json()).toEqual({});

    const port = server.port;
    await server.restart(10);
    expect(server.port).toBe(port);
    expect(await (await fetchAfterRestart(`${server.url}/queue`)).json()).toEqual({
      queue_running: [],
      queue_pending: [],
    });
    expect(server.uploads()).toHaveLength(1);

    server.resume();
    await fetchAfterRestart(`${server.url}/prompt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: graph('kinema/a.png'), prompt_id: promptId }),
    });
    await waitUntil(() => server.historyIds().includes(promptId), 10_000, 'the run');
    await fetch(`${server.url}/history`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ delete: [promptId] }),
    });
    expect(await (await fetch(`${server.url}/history/${promptId}`)).json()).toEqual({});
    expect(server.promptsSubmitted()).toHaveLength(3);
  });

  it('interrupts only the targeted running prompt', async () => {
    const server = await fake({ holdAtStep: 2 });
    await upload(server, 'a.png');
    const promptId = randomUUID();
    await post(server, { prompt: graph('kinema/a.png'), prompt_id: promptId });
    await waitUntil(() => server.queueIds().running === promptId, 10_000, 'the run to start');
    const interrupt = (body: unknown) =>
      fetch(`${server.url}/interrupt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await interrupt({ prompt_id: randomUUID() });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.queueIds().running).toBe(promptId);
    await interrupt({ prompt_id: promptId });
    await waitUntil(() => server.historyIds().includes(promptId), 10_000, 'the interrupt');
    const history = (await (await fetch(`${server.url}/history/${promptId}`)).json()) as Record<
      string,
      { status: { status_str: string; completed: boolean; messages: unknown[][] } }
    >;
    expect(history[promptId]!.status).toMatchObject({ status_str: 'error', completed: false });
    expect(history[promptId]!.status.messages.at(-1)![0]).toBe('execution_interrupted');
  });
});
