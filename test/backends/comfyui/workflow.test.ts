import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComfyBackend } from '../../../src/backends/comfyui/backend.js';
import { buildGraph, frameSize } from '../../../src/backends/comfyui/graph.js';
import { describeIgnoredSettings } from '../../../src/backends/comfyui/ignored-settings.js';
import { DEFAULT_MODEL_FILES } from '../../../src/backends/comfyui/model-files.js';
import { NodeProgress } from '../../../src/backends/comfyui/node-progress.js';
import type { ComfyGraph } from '../../../src/backends/comfyui/nodes.js';
import { DEFAULT_NEGATIVE_PROMPT } from '../../../src/backends/comfyui/options.js';
import { pickVideoOutput } from '../../../src/backends/comfyui/outputs.js';
import { loadTemplate, parseTemplate } from '../../../src/backends/comfyui/template.js';
import { ConfigurationError } from '../../../src/core/errors.js';
import type { GenerationRequest, StoredImage } from '../../../src/core/request.js';

const image = (width: number, height: number): StoredImage => ({
  key: 'input-x',
  contentType: 'image/png',
  bytes: 100,
  width,
  height,
  filename: 'x.png',
});

const request = (settings: Partial<GenerationRequest> = {}): GenerationRequest => ({
  prompt: 'a paper boat drifts down a rainy street',
  model: 'wan2.1',
  seed: 42,
  input_image: image(1024, 1024),
  ...settings,
});

const options = { models: { ...DEFAULT_MODEL_FILES }, negativePrompt: DEFAULT_NEGATIVE_PROMPT };
const files = { startImagePath: 'kinema/p_start.png', jobId: 'job:7', promptId: 'p' };
const i2v = loadTemplate(undefined, 'i2v');
const flf = loadTemplate(undefined, 'flf');

const byClass = (graph: ComfyGraph, classType: string) =>
  Object.entries(graph).filter(([, node]) => node.class_type === classType);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kinema-comfy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('frame size', () => {
  it('keeps the image aspect ratio at the preset area, in multiples of 16', () => {
    expect(frameSize('832x480', 1920, 1080)).toEqual({ width: 832, height: 464 });
    expect(frameSize('480x832', 1920, 1080)).toEqual({ width: 832, height: 464 });
    expect(frameSize('832x480', 1080, 1920)).toEqual({ width: 464, height: 832 });
    expect(frameSize('832x480', 1024, 1024)).toEqual({ width: 624, height: 624 });
    expect(frameSize('1280x720', 1280, 720)).toEqual({ width: 1280, height: 720 });
    expect(frameSize('1280x720', 4000, 10)).toMatchObject({ height: 48 });
  });
});

describe('graph building', () => {
  it('fills the shipped image-to-video template from the request', () => {
    const graph = buildGraph(
      i2v,
      request({ num_frames: 49, fps: 24, num_inference_steps: 20, guidance_scale: 6, shift: 3 }),
      options,
      files,
    );
    expect(graph['1']!.inputs.unet_name).toBe('wan2.1_i2v_480p_14B_fp16.safetensors');
    expect(graph['2']!.inputs.clip_name).toBe('umt5_xxl_fp8_e4m3fn_scaled.safetensors');
    expect(graph['5']!.inputs.image).toBe('kinema/p_start.png');
    expect(graph['7']!.inputs.text).toBe('a paper boat drifts down a rainy street');
    expect(graph['8']!.inputs.text).toBe(DEFAULT_NEGATIVE_PROMPT);
    expect(graph['9']!.inputs).toMatchObject({ width: 624, height: 624, length: 49 });
    expect(graph['10']!.inputs.shift).toBe(3);
    expect(graph['11']!.inputs).toMatchObject({
      seed: 42,
      steps: 20,
      cfg: 6,
      sampler_name: 'uni_pc',
      scheduler: 'simple',
    });
    expect(graph['13']!.inputs.fps).toBe(24);
    expect(graph['14']!.inputs.filename_prefix).toBe('kinema/job_7');
    expect(JSON.stringify(graph)).not.toContain('${');
  });

  it('uses defaults for what the request leaves out, and dpm++ maps to dpmpp_2m', () => {
    const graph = buildGraph(i2v, request({ sample_solver: 'dpm++' }), options, files);
    expect(graph['9']!.inputs.length).toBe(81);
    expect(graph['11']!.inputs).toMatchObject({ steps: 30, cfg: 5, sampler_name: 'dpmpp_2m' });
    expect(graph['10']!.inputs.shift).toBe(5);
    expect(graph['13']!.inputs.fps).toBe(16);
  });

  it('applies spatial upsampling, tiled decoding and CFG-Zero* as graph edits', () => {
    const graph = buildGraph(
      i2v,
      request({ spatial_upsampling: 'lanczos1.5', vae_tile_size: 256, cfg_star_switch: true }),
      options,
      files,
    );
    expect(graph['12']).toMatchObject({
      class_type: 'VAEDecodeTiled',
      inputs: { samples: ['11', 0], vae: ['3', 0], tile_size: 256, overlap: 64 },
    });
    const [[scaleId, scale]] = byClass(graph, 'ImageScaleBy') as [[string, ComfyGraph[string]]];
    expect(scale.inputs).toEqual({ image: ['12', 0], upscale_method: 'lanczos', scale_by: 1.5 });
    expect(graph['13']!.inputs.images).toEqual([scaleId, 0]);
    const [[zeroId, zero]] = byClass(graph, 'CFGZeroStar') as [[string, ComfyGraph[string]]];
    expect(zero.inputs).toEqual({ model: ['10', 0] });
    expect(graph['11']!.inputs.model).toEqual([zeroId, 0]);
  });

  it('leaves the graph alone when the extras are off', () => {
    const graph = buildGraph(
      i2v,
      request({ spatial_upsampling: '', vae_tile_size: 0, cfg_star_switch: false }),
      options,
      files,
    );
    expect(Object.keys(graph)).toHaveLength(14);
    expect(graph['12']!.class_type).toBe('VAEDecode');
  });

  it('uses the first-and-last-frame graph and the FLF2V weights for an end frame', () => {
    const graph = buildGraph(
      flf,
      request({ end_frame: image(1024, 1024) }),
      { ...options, models: { ...options.models, flfUnet: 'wan2.1_flf2v_720p_14B_fp16.safetensors' } },
      { ...files, endImagePath: 'kinema/p_end.png' },
    );
    expect(graph['9']!.class_type).toBe('WanFirstLastFrameToVideo');
    expect(graph['9']!.inputs).toMatchObject({ end_image: ['15', 0], clip_vision_end_image: ['16', 0] });
    expect(graph['15']!.inputs.image).toBe('kinema/p_end.png');
    expect(graph['1']!.inputs.unet_name).toBe('wan2.1_flf2v_720p_14B_fp16.safetensors');
  });

  it('makes a template with hard-coded values follow the image, the seed and explicit settings', () => {
    const template = structuredClone(i2v.graph) as ComfyGraph;
    template['9']!.inputs = { ...template['9']!.inputs, width: 832, height: 480, length: 81 };
    template['11']!.inputs = { ...template['11']!.inputs, seed: 1, steps: 30, cfg: 7 };
    const parsed = parseTemplate(template, 'i2v', 'custom.json');
    const graph = buildGraph(parsed, request({ num_inference_steps: 12 }), options, files);
    expect(graph['9']!.inputs).toMatchObject({ width: 624, height: 624, length: 81 });
    // cfg was not asked for: the template's own value stays.
    expect(graph['11']!.inputs).toMatchObject({ seed: 42, steps: 12, cfg: 7 });
  });
});

describe('templates', () => {
  it('refuses a UI-format file, unknown placeholders, and a graph without a video output', async () => {
    expect(() => parseTemplate({ nodes: [], links: [] }, 'i2v', 'ui.json')).toThrow(/UI format/);
    const unknown = structuredClone(i2v.graph) as ComfyGraph;
    unknown['7']!.inputs.text = ['$', '{caption}'].join('');
    expect(() => parseTemplate(unknown, 'i2v', 'x.json')).toThrow(/unknown placeholder \$\{caption\}/);
    const noOutput = structuredClone(i2v.graph) as ComfyGraph;
    delete noOutput['14'];
    expect(() => parseTemplate(noOutput, 'i2v', 'x.json')).toThrow(ConfigurationError);
    const path = join(dir, 'broken.json');
    await writeFile(path, '{ not json');
    expect(() => new ComfyBackend({ servers: ['http://127.0.0.1:1'], workflowPath: path })).toThrow(
      /not valid JSON/,
    );
  });

  it('loads a user workflow with the same placeholders', async () => {
    const path = join(dir, 'custom.json');
    const custom = structuredClone(i2v.graph) as ComfyGraph;
    custom['11']!.inputs.scheduler = 'karras';
    await writeFile(path, JSON.stringify(custom));
    const template = loadTemplate(path, 'i2v');
    expect(buildGraph(template, request(), options, files)['11']!.inputs.scheduler).toBe('karras');
  });
});

describe('describeIgnored', () => {
  const backend = new ComfyBackend({ servers: ['http://127.0.0.1:1'] });
  afterAll(() => backend.close());

  it('lists settings with no ComfyUI equivalent, and Wan 2.2 models', () => {
    expect(backend.describeIgnored(request({ tea_cache: 2 }))).toEqual([
      'tea_cache has no equivalent on the self-hosted ComfyUI backend and was ignored',
    ]);
    const notes = backend.describeIgnored(
      request({
        model: 'wan2.2-a14b',
        tea_cache: 2,
        enable_RIFLEx: true,
        lora_file: 'https://x/y.safetensors',
      }),
    );
    expect(notes).toHaveLength(2);
    expect(notes[0]).toContain('runs Wan 2.1 weights');
    expect(notes[1]).toBe(
      'tea_cache, enable_RIFLEx and lora_file have no equivalent on the self-hosted ComfyUI backend and were ignored',
    );
  });

  it('stays quiet for supported settings and for extras that are switched off', () => {
    expect(
      backend.describeIgnored(
        request({
          shift: 3,
          sample_solver: 'dpm++',
          spatial_upsampling: 'lanczos2',
          vae_tile_size: 128,
          cfg_star_switch: true,
          tea_cache: 0,
          enable_RIFLEx: false,
          temporal_upsampling: '',
        }),
      ),
    ).toEqual([]);
  });

  it('names extras the configured workflow cannot express', () => {
    const bare = structuredClone(i2v.graph) as ComfyGraph;
    bare['11']!.inputs.model = ['1', 0];
    delete bare['10'];
    const template = parseTemplate(bare, 'i2v', 'bare.json');
    expect(describeIgnoredSettings(request({ shift: 3 }), template)).toEqual([
      'shift is not used by the configured ComfyUI workflow and was ignored',
    ]);
  });
});

describe('output picking', () => {
  it('finds a SaveVideo output listed under images', () => {
    expect(
      pickVideoOutput({
        '14': {
          images: [{ filename: 'job_00001_.mp4', subfolder: 'kinema', type: 'output' }],
          animated: [true],
        },
      }),
    ).toEqual({ filename: 'job_00001_.mp4', subfolder: 'kinema', type: 'output' });
  });

  it('finds a VHS gifs output and prefers output files over temp previews and stills', () => {
    expect(
      pickVideoOutput({
        '3': { images: [{ filename: 'still.png', subfolder: '', type: 'output' }] },
        '9': { gifs: [{ filename: 'prev_00001.webp', subfolder: '', type: 'temp' }] },
        '20': {
          gifs: [
            { filename: 'AnimateDiff_00001.mp4', subfolder: '', type: 'output', format: 'video/h264-mp4' },
          ],
        },
      }),
    ).toEqual({ filename: 'AnimateDiff_00001.mp4', subfolder: '', type: 'output', format: 'video/h264-mp4' });
    expect(pickVideoOutput({ '1': { text: ['hello'] } })).toBeUndefined();
  });
});

describe('progress', () => {
  it('weights the sampler, stays monotonic and below 100', () => {
    const tracker = new NodeProgress(buildGraph(i2v, request(), options, files));
    tracker.cached(['1', '2', '3', '4']);
    const start = tracker.percent();
    expect(start).toBeGreaterThan(0);
    tracker.executing('11');
    tracker.progress('11', 15, 30, 1_000);
    const half = tracker.percent();
    expect(half).toBeGreaterThan(40);
    expect(tracker.detail()).toBe('step 15/30');
    tracker.progress('11', 16, 30, 2_000);
    expect(tracker.remainingMs(0)).toBe(14_000);
    tracker.restart();
    expect(tracker.percent()).toBe(half);
    for (const id of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14'])
      tracker.finished(id);
    expect(tracker.percent()).toBe(99);
  });
});
