import { effectiveShape, MODEL_PROFILES, resolutionOf } from '../../core/models.js';
import { fieldInfo, type GenerationRequest, type SettingName, type Size } from '../../core/request.js';
import type { ComfyModelFiles } from './model-files.js';
import {
  type ComfyGraph,
  type ComfyLink,
  type ComfyNode,
  DECODE_CLASSES,
  FRAME_CLASSES,
  isLink,
  MODEL_LOADER_CLASSES,
  nodesOf,
  SAMPLER_CLASSES,
} from './nodes.js';
import { fillTemplate, type GraphValues, type Placeholder, type WorkflowTemplate } from './template.js';

/**
 * One job's graph (shared/specs/comfyui-api.md §10): the template filled from the canonical request,
 * plus the structural edits some extras need (tiled decoding, upscaling, CFG-Zero*).
 */

/** This backend runs the Wan 2.1 weights whatever model the request names (see ignored-settings.ts). */
const WAN21 = MODEL_PROFILES['wan2.1'];

/** The request schema's default, which is Wan 2.1's, for settings the model profile has no default for. */
function schemaDefault(name: SettingName): number {
  const value = fieldInfo(name).defaultValue;
  if (typeof value !== 'number') throw new TypeError(`the setting ${name} has no numeric default`);
  return value;
}
const DEFAULT_GUIDANCE = schemaDefault('guidance_scale');
const DEFAULT_SHIFT = schemaDefault('shift');

/** Area of each preset (spec §10): 832×480 or 1280×720, whatever the orientation of `size`. */
export const AREAS: Readonly<Record<'480p' | '720p', number>> = { '480p': 832 * 480, '720p': 1280 * 720 };

/**
 * Width and height for the image's aspect ratio at the preset's area, multiples of 16 (spec §10):
 * `height = 16·floor(round(√(A·r)) / 16)`, `width = 16·floor(round(√(A / r)) / 16)`, r = h / w.
 */
export function frameSize(
  size: Size,
  imageWidth: number,
  imageHeight: number,
): { width: number; height: number } {
  const area = AREAS[resolutionOf(size)];
  const ratio = imageHeight / imageWidth;
  const height = Math.max(16, 16 * Math.floor(Math.round(Math.sqrt(area * ratio)) / 16));
  const width = Math.max(16, 16 * Math.floor(Math.round(Math.sqrt(area / ratio)) / 16));
  return { width, height };
}

export interface GraphOptions {
  models: ComfyModelFiles;
  negativePrompt: string;
}

export interface GraphFiles {
  /** `"<subfolder>/<name>"` as returned by the upload. */
  startImagePath: string;
  endImagePath?: string;
  /** The request's LoRA as a file of the server's loras folder (lora-files.ts), when it has one. */
  loraName?: string;
  jobId: string;
  promptId: string;
}

/** What the run will use, for status text, ETA keys and duration history. */
export interface RunShape {
  width: number;
  height: number;
  length: number;
  steps: number;
  /** Unlike the inference.sh app, a ComfyUI graph honours the requested fps. */
  fps: number;
  resolution: '480p' | '720p';
  flf: boolean;
}

export function runShape(request: GenerationRequest): RunShape {
  const { numFrames, steps, size } = effectiveShape(request, WAN21);
  const { width, height } = frameSize(size, request.input_image.width, request.input_image.height);
  return {
    width,
    height,
    length: numFrames,
    steps,
    fps: request.fps ?? WAN21.defaults.fps,
    resolution: resolutionOf(size),
    flf: request.end_frame !== undefined,
  };
}

/** The key past run times of this shape are kept under, for the ETA. */
export const durationKeyOf = (shape: RunShape) =>
  `comfyui:${shape.flf ? 'flf2v' : 'i2v'}:${shape.resolution}:${shape.length}f:${shape.steps}s`;

const safeName = (value: string) => value.replace(/[^\w.-]+/g, '_').slice(0, 80) || 'job';

export function graphValues(
  request: GenerationRequest,
  options: GraphOptions,
  files: GraphFiles,
): GraphValues {
  const shape = runShape(request);
  const negative = request.negative_prompt?.trim();
  return {
    'model.unet': shape.flf && options.models.flfUnet ? options.models.flfUnet : options.models.unet,
    'model.textEncoder': options.models.textEncoder,
    'model.vae': options.models.vae,
    'model.clipVision': options.models.clipVision,
    startImagePath: files.startImagePath,
    ...(files.endImagePath ? { endImagePath: files.endImagePath } : {}),
    prompt: request.prompt,
    negativePrompt: negative ? negative : options.negativePrompt,
    width: shape.width,
    height: shape.height,
    length: shape.length,
    seed: request.seed,
    steps: shape.steps,
    cfg: request.guidance_scale ?? DEFAULT_GUIDANCE,
    samplerName: request.sample_solver === 'dpm++' ? 'dpmpp_2m' : 'uni_pc',
    scheduler: 'simple',
    shift: request.shift ?? DEFAULT_SHIFT,
    fps: shape.fps,
    jobId: safeName(files.jobId),
    promptId: files.promptId,
  };
}

function nextId(graph: ComfyGraph): string {
  const numeric = Object.keys(graph)
    .map(Number)
    .filter((n) => Number.isInteger(n));
  if (numeric.length === Object.keys(graph).length) return String(Math.max(0, ...numeric) + 1);
  let index = 1;
  while (graph[`kinema_${index}`]) index += 1;
  return `kinema_${index}`;
}

/** Sets a literal (non-link) input when the template has no placeholder for it. */
function ensure(node: ComfyNode, input: string, value: string | number | undefined) {
  if (value === undefined || !(input in node.inputs) || isLink(node.inputs[input])) return;
  node.inputs[input] = value;
}

/**
 * A template that hard-codes a value instead of using its placeholder keeps its own value, except
 * where the job needs its own: width and height (the image's aspect ratio), the seed, and whatever
 * the user set explicitly. Those are written into the known core node that holds them.
 */
function applyWithoutPlaceholders(
  graph: ComfyGraph,
  values: GraphValues,
  has: ReadonlySet<Placeholder>,
  request: GenerationRequest,
) {
  const asked: Record<Placeholder, boolean> = {
    width: true,
    height: true,
    seed: true,
    length: request.num_frames !== undefined,
    steps: request.num_inference_steps !== undefined,
    cfg: request.guidance_scale !== undefined,
    samplerName: request.sample_solver !== undefined,
    scheduler: request.sample_solver !== undefined,
    shift: request.shift !== undefined,
    fps: request.fps !== undefined,
  } as Record<Placeholder, boolean>;
  const pick = (name: Placeholder) => (has.has(name) || !asked[name] ? undefined : values[name]);
  for (const [, node] of nodesOf(graph, (c) => FRAME_CLASSES.has(c))) {
    ensure(node, 'width', pick('width'));
    ensure(node, 'height', pick('height'));
    ensure(node, 'length', pick('length'));
  }
  for (const [, node] of nodesOf(graph, (c) => SAMPLER_CLASSES.has(c))) {
    ensure(node, node.class_type === 'KSamplerAdvanced' ? 'noise_seed' : 'seed', pick('seed'));
    ensure(node, 'steps', pick('steps'));
    ensure(node, 'cfg', pick('cfg'));
    ensure(node, 'sampler_name', pick('samplerName'));
    ensure(node, 'scheduler', pick('scheduler'));
  }
  for (const [, node] of nodesOf(graph, (c) => c === 'ModelSamplingSD3'))
    ensure(node, 'shift', pick('shift'));
  for (const [, node] of nodesOf(graph, (c) => c === 'CreateVideo')) ensure(node, 'fps', pick('fps'));
  for (const [, node] of nodesOf(graph, (c) => c === 'VHS_VideoCombine'))
    ensure(node, 'frame_rate', pick('fps'));
}

/** Points every input that reads `from` at `to` instead (except the node `skip`). */
function rewire(graph: ComfyGraph, from: ComfyLink, to: ComfyLink, skip: string) {
  for (const [id, node] of Object.entries(graph)) {
    if (id === skip) continue;
    for (const [name, value] of Object.entries(node.inputs)) {
      if (isLink(value) && value[0] === from[0] && value[1] === from[1]) node.inputs[name] = [...to];
    }
  }
}

/** Fills a template for one job and applies the structural extras (spec §10). */
export function buildGraph(
  template: WorkflowTemplate,
  request: GenerationRequest,
  options: GraphOptions,
  files: GraphFiles,
): ComfyGraph {
  const values = graphValues(request, options, files);
  const graph = fillTemplate(template, values);
  applyWithoutPlaceholders(graph, values, template.placeholders, request);

  if (files.loraName) {
    // Between each model loader and everything that read its MODEL (spec §10, LoraLoaderModelOnly).
    for (const [id] of nodesOf(graph, (c) => MODEL_LOADER_CLASSES.has(c))) {
      const lora = nextId(graph);
      graph[lora] = {
        class_type: 'LoraLoaderModelOnly',
        inputs: { model: [id, 0], lora_name: files.loraName, strength_model: request.lora_multiplier ?? 1 },
      };
      rewire(graph, [id, 0], [lora, 0], lora);
    }
  }

  const tile = request.vae_tile_size ?? 0;
  if (tile > 0) {
    for (const [, node] of nodesOf(graph, (c) => DECODE_CLASSES.has(c))) {
      const tileSize = Math.max(64, Math.round(tile / 32) * 32);
      node.class_type = 'VAEDecodeTiled';
      node.inputs = {
        samples: node.inputs.samples,
        vae: node.inputs.vae,
        tile_size: tileSize,
        // ComfyUI caps the overlap at a quarter of the tile; keep it on the 32 step.
        overlap: Math.min(64, Math.max(0, Math.floor(tileSize / 4 / 32) * 32)),
        temporal_size: 64,
        temporal_overlap: 8,
      };
    }
  }

  const upscale =
    request.spatial_upsampling === 'lanczos1.5' ? 1.5 : request.spatial_upsampling === 'lanczos2' ? 2 : 0;
  if (upscale > 0) {
    for (const [id] of nodesOf(graph, (c) => DECODE_CLASSES.has(c))) {
      const scaler = nextId(graph);
      graph[scaler] = {
        class_type: 'ImageScaleBy',
        inputs: { image: [id, 0], upscale_method: 'lanczos', scale_by: upscale },
      };
      rewire(graph, [id, 0], [scaler, 0], scaler);
    }
  }

  if (request.cfg_star_switch === true) {
    const inserted = new Map<string, string>();
    for (const [, node] of nodesOf(graph, (c) => SAMPLER_CLASSES.has(c))) {
      const model = node.inputs.model;
      if (!isLink(model)) continue;
      const key = `${model[0]}:${model[1]}`;
      let zero = inserted.get(key);
      if (!zero) {
        zero = nextId(graph);
        graph[zero] = { class_type: 'CFGZeroStar', inputs: { model: [...model] } };
        inserted.set(key, zero);
      }
      node.inputs.model = [zero, 0];
    }
  }
  return graph;
}
