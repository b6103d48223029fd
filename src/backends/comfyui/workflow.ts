import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigurationError } from '../../core/errors.js';
import { resolutionOf } from '../../core/models.js';
import type { GenerationRequest, SettingName, Size } from '../../core/request.js';

/**
 * Wan 2.1 graphs for ComfyUI (shared/specs/comfyui-api.md §9, §10): API-format templates with named
 * `${…}` placeholders, filled from the canonical request, plus the structural edits some extras need.
 */

export interface ComfyNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string };
}
export type ComfyGraph = Record<string, ComfyNode>;
/** `[source_node_id, output_slot]`. */
export type ComfyLink = [string, number];

export const isLink = (value: unknown): value is ComfyLink =>
  Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'number';

export interface ComfyModelFiles {
  /** `models/diffusion_models`. */
  unet: string;
  /** `models/text_encoders` (umt5-xxl). */
  textEncoder: string;
  /** `models/vae`. */
  vae: string;
  /** `models/clip_vision`. */
  clipVision: string;
  /** FLF2V weights for first-and-last-frame jobs; without it the i2v weights are used. */
  flfUnet?: string;
}

/** The official ComfyUI Wan 2.1 image-to-video template's weights (spec §9). */
export const DEFAULT_MODEL_FILES: Readonly<ComfyModelFiles> = {
  unet: 'wan2.1_i2v_480p_14B_fp16.safetensors',
  textEncoder: 'umt5_xxl_fp8_e4m3fn_scaled.safetensors',
  vae: 'wan_2.1_vae.safetensors',
  clipVision: 'clip_vision_h.safetensors',
};

/** Where each configured file must be, for preflight (`GET /models/{folder}`). */
export const MODEL_FOLDERS: Readonly<Record<keyof ComfyModelFiles, string>> = {
  unet: 'diffusion_models',
  textEncoder: 'text_encoders',
  vae: 'vae',
  clipVision: 'clip_vision',
  flfUnet: 'diffusion_models',
};

/** The shared negative prompt of the Wan 2.2 apps (wan-apps.md §1); Wan's own default is Chinese. */
export const DEFAULT_NEGATIVE_PROMPT =
  'oversaturated, overexposed, static, blurry details, subtitles, stylized, artwork, painting, still image, ' +
  'overall gray, worst quality, low quality, JPEG artifacts, ugly, deformed, extra fingers, poorly drawn hands, ' +
  'poorly drawn face, malformed, disfigured, deformed limbs, fused fingers, static motionless frame, ' +
  'cluttered background, three legs, crowded background, walking backwards';

export const PLACEHOLDERS = [
  'model.unet',
  'model.textEncoder',
  'model.vae',
  'model.clipVision',
  'startImagePath',
  'endImagePath',
  'prompt',
  'negativePrompt',
  'width',
  'height',
  'length',
  'seed',
  'steps',
  'cfg',
  'samplerName',
  'scheduler',
  'shift',
  'fps',
  'jobId',
  'promptId',
] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type GraphValues = Partial<Record<Placeholder, string | number>>;

const PLACEHOLDER_SET: ReadonlySet<string> = new Set(PLACEHOLDERS);
const WHOLE = /^\$\{([\w.]+)\}$/;
const ANY = /\$\{([\w.]+)\}/g;

export const SAMPLER_CLASSES: ReadonlySet<string> = new Set(['KSampler', 'KSamplerAdvanced']);
export const isSamplerClass = (classType: string) =>
  SAMPLER_CLASSES.has(classType) || classType.startsWith('SamplerCustom');
export const DECODE_CLASSES: ReadonlySet<string> = new Set(['VAEDecode', 'VAEDecodeTiled']);
export const OUTPUT_CLASSES: ReadonlySet<string> = new Set([
  'SaveVideo',
  'SaveWEBM',
  'SaveAnimatedWEBP',
  'SaveAnimatedPNG',
  'VHS_VideoCombine',
]);
const FRAME_NODES: ReadonlySet<string> = new Set(['WanImageToVideo', 'WanFirstLastFrameToVideo']);

export interface WorkflowTemplate {
  readonly kind: 'i2v' | 'flf';
  /** File the template came from, for messages. */
  readonly source: string;
  readonly graph: Readonly<ComfyGraph>;
  /** Placeholder names the template uses. */
  readonly placeholders: ReadonlySet<Placeholder>;
}

export const DEFAULT_WORKFLOWS = {
  i2v: fileURLToPath(new URL('./workflows/wan21-i2v.json', import.meta.url)),
  flf: fileURLToPath(new URL('./workflows/wan21-flf2v.json', import.meta.url)),
} as const;

function collectPlaceholders(value: unknown, into: Set<string>) {
  if (typeof value === 'string') {
    for (const match of value.matchAll(ANY)) into.add(match[1]!);
  } else if (Array.isArray(value)) {
    for (const item of value) collectPlaceholders(item, into);
  } else if (value && typeof value === 'object') {
    for (const item of Object.values(value)) collectPlaceholders(item, into);
  }
}

/** Checks an API-format graph and returns it with the placeholders it uses. */
export function parseTemplate(raw: unknown, kind: 'i2v' | 'flf', source: string): WorkflowTemplate {
  const where = `the ComfyUI workflow ${source}`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigurationError(`${where} is not a JSON object of nodes (API format)`);
  }
  if ('nodes' in raw && 'links' in raw) {
    throw new ConfigurationError(
      `${where} is in the UI format; export it from ComfyUI with "Export (API)" and use that file`,
    );
  }
  const graph = raw as ComfyGraph;
  let outputs = 0;
  for (const [id, node] of Object.entries(graph)) {
    if (!node || typeof node !== 'object' || typeof node.class_type !== 'string') {
      throw new ConfigurationError(`${where}: node ${id} has no class_type (is this the API format?)`);
    }
    if (!node.inputs || typeof node.inputs !== 'object') {
      throw new ConfigurationError(`${where}: node ${id} (${node.class_type}) has no inputs object`);
    }
    for (const [name, value] of Object.entries(node.inputs)) {
      if (isLink(value) && !graph[value[0]]) {
        throw new ConfigurationError(`${where}: node ${id} input ${name} links to missing node ${value[0]}`);
      }
    }
    if (OUTPUT_CLASSES.has(node.class_type)) outputs += 1;
  }
  if (outputs === 0) {
    throw new ConfigurationError(
      `${where} has no video output node (one of ${[...OUTPUT_CLASSES].join(', ')})`,
    );
  }
  const found = new Set<string>();
  collectPlaceholders(graph, found);
  const unknown = [...found].filter((name) => !PLACEHOLDER_SET.has(name));
  if (unknown.length > 0) {
    throw new ConfigurationError(
      `${where} uses unknown placeholder${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `\${${n}}`).join(', ')}; ` +
        `known: ${PLACEHOLDERS.map((n) => `\${${n}}`).join(', ')}`,
    );
  }
  const required: Placeholder[] =
    kind === 'flf' ? ['prompt', 'startImagePath', 'endImagePath'] : ['prompt', 'startImagePath'];
  const missing = required.filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw new ConfigurationError(
      `${where} must contain the placeholder${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"\${${n}}"`).join(', ')}`,
    );
  }
  if (kind === 'i2v' && found.has('endImagePath')) {
    throw new ConfigurationError(`${where} is the image-to-video workflow but uses \${endImagePath}`);
  }
  return { kind, source, graph, placeholders: found as Set<Placeholder> };
}

export function loadTemplate(path: string | undefined, kind: 'i2v' | 'flf'): WorkflowTemplate {
  const file = path ?? DEFAULT_WORKFLOWS[kind];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`cannot read the ComfyUI workflow ${file}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(
      `the ComfyUI workflow ${file} is not valid JSON: ${(error as Error).message}`,
    );
  }
  return parseTemplate(raw, kind, file);
}

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

/** Defaults when the request leaves a value out (the Wan 2.1 app's, spec §9/§10). */
export const REQUEST_DEFAULTS = {
  size: '832x480' as Size,
  numFrames: 81,
  fps: 16,
  steps: 30,
  guidance: 5,
  shift: 5,
};

export interface GraphOptions {
  models: ComfyModelFiles;
  negativePrompt: string;
}

export interface GraphFiles {
  /** `"<subfolder>/<name>"` as returned by the upload. */
  startImagePath: string;
  endImagePath?: string;
  jobId: string;
  promptId: string;
}

/** What the run will use, for status text, ETA keys and duration history. */
export interface RunShape {
  width: number;
  height: number;
  length: number;
  steps: number;
  resolution: '480p' | '720p';
  flf: boolean;
}

export function runShape(request: GenerationRequest): RunShape {
  const size = request.size ?? REQUEST_DEFAULTS.size;
  const { width, height } = frameSize(size, request.input_image.width, request.input_image.height);
  return {
    width,
    height,
    length: request.num_frames ?? REQUEST_DEFAULTS.numFrames,
    steps: request.num_inference_steps ?? REQUEST_DEFAULTS.steps,
    resolution: resolutionOf(size),
    flf: request.end_frame !== undefined,
  };
}

const safeName = (value: string) => value.replace(/[^\w.-]+/g, '_').slice(0, 80) || 'job';

export function graphValues(
  request: GenerationRequest,
  options: GraphOptions,
  files: GraphFiles,
): GraphValues {
  const shape = runShape(request);
  const flf = request.end_frame !== undefined;
  const negative = request.negative_prompt?.trim();
  return {
    'model.unet': flf && options.models.flfUnet ? options.models.flfUnet : options.models.unet,
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
    cfg: request.guidance_scale ?? REQUEST_DEFAULTS.guidance,
    samplerName: request.sample_solver === 'dpm++' ? 'dpmpp_2m' : 'uni_pc',
    scheduler: 'simple',
    shift: request.shift ?? REQUEST_DEFAULTS.shift,
    fps: request.fps ?? REQUEST_DEFAULTS.fps,
    jobId: safeName(files.jobId),
    promptId: files.promptId,
  };
}

function substitute(value: unknown, values: GraphValues, source: string): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) {
      const replacement = values[whole[1] as Placeholder];
      if (replacement === undefined) {
        throw new ConfigurationError(
          `the ComfyUI workflow ${source} uses ${value}, which this job has no value for`,
        );
      }
      return replacement;
    }
    return value.replace(ANY, (match, name: string) => {
      const replacement = values[name as Placeholder];
      if (replacement === undefined) {
        throw new ConfigurationError(
          `the ComfyUI workflow ${source} uses ${match}, which this job has no value for`,
        );
      }
      return String(replacement);
    });
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, values, source));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, values, source)]));
  }
  return value;
}

const nodesOf = (graph: ComfyGraph, predicate: (classType: string) => boolean) =>
  Object.entries(graph).filter(([, node]) => predicate(node.class_type));

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
  for (const [, node] of nodesOf(graph, (c) => FRAME_NODES.has(c))) {
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

/** Extras this template can express, for describeIgnored and for building. */
export function templateSupports(template: WorkflowTemplate) {
  const classes = new Set(Object.values(template.graph).map((node) => node.class_type));
  const has = (p: Placeholder) => template.placeholders.has(p);
  const sampler = [...classes].some((c) => SAMPLER_CLASSES.has(c));
  return {
    decode: classes.has('VAEDecode') || classes.has('VAEDecodeTiled'),
    modelSampling: has('shift') || classes.has('ModelSamplingSD3'),
    samplerModel: Object.values(template.graph).some(
      (node) => SAMPLER_CLASSES.has(node.class_type) && isLink(node.inputs.model),
    ),
    steps: has('steps') || sampler,
    cfg: has('cfg') || sampler,
    solver: has('samplerName') || sampler,
    fps: has('fps') || classes.has('CreateVideo') || classes.has('VHS_VideoCombine'),
    negative: has('negativePrompt'),
  };
}

/** Fills a template for one job and applies the structural extras (spec §10). */
export function buildGraph(
  template: WorkflowTemplate,
  request: GenerationRequest,
  options: GraphOptions,
  files: GraphFiles,
): ComfyGraph {
  const values = graphValues(request, options, files);
  const graph = substitute(structuredClone(template.graph), values, template.source) as ComfyGraph;
  applyWithoutPlaceholders(graph, values, template.placeholders, request);

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

/** Settings with no ComfyUI equivalent on this backend (spec §10), whatever the template. */
const NO_EQUIVALENT: readonly SettingName[] = [
  'tea_cache',
  'tea_cache_start_step_perc',
  'cfg_zero_step',
  'enable_RIFLEx',
  'joint_pass',
  'attention',
  'temporal_upsampling',
  'lora_file',
  'lora_multiplier',
  'add_frames_for_end_image',
  'boundary_ratio',
  'cache_threshold',
  'video_output_quality',
];

/** A value that asks for nothing (off, empty) needs no note even when the backend lacks the feature. */
const isOff = (value: unknown) => value === false || value === 0 || value === '';

const listed = (names: string[]) =>
  names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;

/** Human notes for what the self-hosted backend drops from this request. */
export function describeIgnoredSettings(request: GenerationRequest, template: WorkflowTemplate): string[] {
  const notes: string[] = [];
  if (request.model !== 'wan2.1') {
    notes.push(
      `the self-hosted ComfyUI backend runs Wan 2.1 weights, so the video is made with Wan 2.1 instead of ${request.model}`,
    );
  }
  const ignored: string[] = [];
  for (const name of NO_EQUIVALENT) {
    const value = request[name];
    if (value === undefined || isOff(value)) continue;
    ignored.push(name);
  }
  if (ignored.length > 0) {
    notes.push(
      `${listed(ignored)} ${ignored.length > 1 ? 'have' : 'has'} no equivalent on the self-hosted ComfyUI backend and ${ignored.length > 1 ? 'were' : 'was'} ignored`,
    );
  }
  const supports = templateSupports(template);
  const unused: string[] = [];
  if (request.shift !== undefined && !supports.modelSampling) unused.push('shift');
  if (request.sample_solver !== undefined && !supports.solver) unused.push('sample_solver');
  if (request.num_inference_steps !== undefined && !supports.steps) unused.push('num_inference_steps');
  if (request.guidance_scale !== undefined && !supports.cfg) unused.push('guidance_scale');
  if (request.fps !== undefined && !supports.fps) unused.push('fps');
  if (request.negative_prompt && !supports.negative) unused.push('negative_prompt');
  if (request.vae_tile_size && !supports.decode) unused.push('vae_tile_size');
  if (request.spatial_upsampling && !supports.decode) unused.push('spatial_upsampling');
  if (request.cfg_star_switch === true && !supports.samplerModel) unused.push('cfg_star_switch');
  if (unused.length > 0) {
    notes.push(
      `${listed(unused)} ${unused.length > 1 ? 'are' : 'is'} not used by the configured ComfyUI workflow and ${unused.length > 1 ? 'were' : 'was'} ignored`,
    );
  }
  return notes;
}

/** A file a history entry points at, downloadable with `GET /view`. */
export interface ComfyFileRef {
  filename: string;
  subfolder: string;
  type: string;
  format?: string;
}

const VIDEO_EXTENSIONS = ['.mp4', '.webm', '.mov', '.mkv', '.webp', '.gif'];

/**
 * Output picking rule (spec §4): walk every output node, collect `images`, `gifs` and `videos`
 * entries, prefer `type == "output"`, choose by video extension or a `video/…` format.
 */
export function pickVideoOutput(outputs: unknown): ComfyFileRef | undefined {
  if (!outputs || typeof outputs !== 'object') return undefined;
  const candidates: { ref: ComfyFileRef; score: number }[] = [];
  for (const output of Object.values(outputs as Record<string, unknown>)) {
    if (!output || typeof output !== 'object') continue;
    for (const key of ['images', 'gifs', 'videos']) {
      const list = (output as Record<string, unknown>)[key];
      if (!Array.isArray(list)) continue;
      for (const entry of list) {
        if (!entry || typeof entry !== 'object') continue;
        const { filename, subfolder, type, format } = entry as Record<string, unknown>;
        if (typeof filename !== 'string' || filename === '') continue;
        const lower = filename.toLowerCase();
        const extension = VIDEO_EXTENSIONS.findIndex((ext) => lower.endsWith(ext));
        const videoFormat = typeof format === 'string' && format.startsWith('video/');
        if (extension < 0 && !videoFormat) continue;
        const kind = typeof type === 'string' && type !== '' ? type : 'output';
        const score =
          (kind === 'output' ? 100 : 0) +
          (extension >= 0 ? VIDEO_EXTENSIONS.length - extension : 0) * 2 +
          (videoFormat ? 1 : 0);
        candidates.push({
          ref: {
            filename,
            subfolder: typeof subfolder === 'string' ? subfolder : '',
            type: kind,
            ...(typeof format === 'string' ? { format } : {}),
          },
          score,
        });
      }
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  return candidates[0]?.ref;
}

export function contentTypeOf(ref: ComfyFileRef): string {
  if (ref.format?.startsWith('video/')) return ref.format.includes('mp4') ? 'video/mp4' : ref.format;
  const lower = ref.filename.toLowerCase();
  if (lower.endsWith('.mp4')) return 'video/mp4';
  if (lower.endsWith('.webm')) return 'video/webm';
  if (lower.endsWith('.mov')) return 'video/quicktime';
  if (lower.endsWith('.mkv')) return 'video/x-matroska';
  if (lower.endsWith('.webp')) return 'image/webp';
  if (lower.endsWith('.gif')) return 'image/gif';
  return 'application/octet-stream';
}
