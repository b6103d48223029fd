import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ComfyBackend } from '../../../src/backends/comfyui/backend.js';
import type { LoraFilesOptions } from '../../../src/backends/comfyui/lora-files.js';
import type { StoredImage } from '../../../src/core/request.js';
import { type FakeComfy, fakeMp4, startFakeComfy } from '../../fakes/comfyui/index.js';
import {
  collect,
  fastOptions,
  makeInputs,
  makeJob,
  makeRequest,
  recordingHooks,
  storePng,
} from '../../support/comfyui-harness.js';
import { type HttpsFiles, startHttpsFiles } from '../../support/https-files.js';

/**
 * A LoRA URL on the self-hosted backend: the worker downloads it once into the loras folder the
 * (fake) ComfyUI reads, and the graph it sends loads it with LoraLoaderModelOnly on the model path.
 */

const LORA = Buffer.concat([Buffer.from('{"__metadata__":{}}'), Buffer.alloc(200_000, 9)]);
let env: Awaited<ReturnType<typeof makeInputs>>;
let image: StoredImage;
let files: HttpsFiles;
let lorasDir: string;
const open: { fakes: FakeComfy[]; backends: ComfyBackend[] } = { fakes: [], backends: [] };

beforeAll(async () => {
  env = await makeInputs();
  image = await storePng(env.inputs, 832, 480);
  files = await startHttpsFiles({
    '/style.safetensors': (_req, res) => {
      // Slow enough that two jobs asking at once overlap.
      res.writeHead(200, { 'content-length': LORA.length });
      setTimeout(() => res.end(LORA), 50);
    },
    '/huge.safetensors': (_req, res) => {
      res.writeHead(200, { 'content-length': 50 * 1024 * 1024 }).end();
    },
    '/moved.safetensors': (_req, res) => {
      res.writeHead(302, { location: 'https://169.254.169.254/latest/meta-data/x.safetensors' }).end();
    },
  });
  lorasDir = mkdtempSync(join(tmpdir(), 'kinema-loras-'));
});

afterEach(async () => {
  await Promise.all(open.backends.splice(0).map((b) => b.close()));
  await Promise.all(open.fakes.splice(0).map((f) => f.close()));
});

afterAll(async () => {
  await files.close();
  rmSync(lorasDir, { recursive: true, force: true });
  await env.cleanup();
});

async function setup(loras: Partial<LoraFilesOptions> = {}) {
  const server = await startFakeComfy({ video: fakeMp4(8 * 1024), stepDelayMs: 1, nodeDelayMs: 1, lorasDir });
  open.fakes.push(server);
  const comfy = new ComfyBackend(
    fastOptions([server.url], {
      loras: {
        dir: lorasDir,
        maxBytes: 1024 * 1024,
        timeoutMs: 10_000,
        policy: { allowHosts: ['127.0.0.1'] },
        tls: { ca: files.ca },
        ...loras,
      },
    }),
  );
  open.backends.push(comfy);
  return { server, comfy };
}

const signal = () => AbortSignal.timeout(30_000);

describe('lora_file on ComfyUI', () => {
  it('downloads the file once for two jobs and loads it on the model path of each graph', async () => {
    const { server, comfy } = await setup();
    const url = `${files.url}/style.safetensors`;
    const jobs = [0.8, 0.8].map(() =>
      makeJob(makeRequest(image, { lora_file: url, lora_multiplier: 0.8 }), env.inputs),
    );
    expect(comfy.describeIgnored(jobs[0]!.request)).toEqual([]);

    const refs = await Promise.all(jobs.map((job) => comfy.submit(job, recordingHooks(), signal())));
    for (const [index, ref] of refs.entries()) {
      const { error } = await collect(comfy.follow(ref, jobs[index]!, signal()));
      expect(error).toBeUndefined();
    }

    expect(files.hits('/style.safetensors')).toBe(1);
    const prompts = server.promptsSubmitted();
    expect(prompts).toHaveLength(2);
    for (const prompt of prompts) {
      const graph = prompt.graph as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
      const [loraId, lora] = Object.entries(graph).find(
        ([, node]) => node.class_type === 'LoraLoaderModelOnly',
      )!;
      const unetId = Object.entries(graph).find(([, node]) => node.class_type === 'UNETLoader')![0];
      expect(lora.inputs).toMatchObject({ model: [unetId, 0], strength_model: 0.8 });
      // What read the loader's MODEL now reads the LoRA's.
      const sampling = Object.values(graph).find((node) => node.class_type === 'ModelSamplingSD3')!;
      expect(sampling.inputs.model).toEqual([loraId, 0]);
      const name = String(lora.inputs.lora_name);
      expect(name).toMatch(/^kinema\/[0-9a-f]{32}\.safetensors$/);
      expect(readFileSync(join(lorasDir, name)).equals(LORA)).toBe(true);
    }

    // A third job later still finds it on disk.
    const again = makeJob(makeRequest(image, { lora_file: url }), env.inputs);
    await comfy.submit(again, recordingHooks(), signal());
    expect(files.hits('/style.safetensors')).toBe(1);
  });

  it('refuses a file over the size limit and one reached through a redirect to a private address', async () => {
    const { server, comfy } = await setup();
    for (const [path, message] of [
      ['/huge.safetensors', /larger than/],
      ['/moved.safetensors', /public host/],
    ] as const) {
      const job = makeJob(makeRequest(image, { lora_file: `${files.url}${path}` }), env.inputs);
      await expect(comfy.submit(job, recordingHooks(), signal())).rejects.toThrow(message);
    }
    expect(server.promptsSubmitted()).toHaveLength(0);
  });
});
