import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigurationError } from '../../core/errors.js';
import { type ComfyGraph, isLink, MODEL_LOADER_CLASSES, OUTPUT_CLASSES, SAMPLER_CLASSES } from './nodes.js';

/**
 * Workflow templates (shared/specs/comfyui-api.md §9, §10): API-format graphs with named `${…}`
 * placeholders, loaded and checked once at start-up, then filled with one job's values.
 */

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

export interface WorkflowTemplate {
  readonly kind: 'i2v' | 'flf';
  /** File the template came from, for messages. */
  readonly source: string;
  readonly graph: Readonly<ComfyGraph>;
  /** Placeholder names the template uses. */
  readonly placeholders: ReadonlySet<Placeholder>;
}

/** The image-to-video template and the first-and-last-frame one. */
export interface WorkflowTemplates {
  readonly i2v: WorkflowTemplate;
  readonly flf: WorkflowTemplate;
}

export const DEFAULT_WORKFLOWS = {
  i2v: fileURLToPath(new URL('./workflows/wan21-i2v.json', import.meta.url)),
  flf: fileURLToPath(new URL('./workflows/wan21-flf2v.json', import.meta.url)),
} as const;

/** The template a request runs on: the first-and-last-frame one when it has an end frame. */
export const templateFor = (templates: WorkflowTemplates, request: { end_frame?: unknown }) =>
  request.end_frame ? templates.flf : templates.i2v;

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

/**
 * A fresh copy of the template's graph with every placeholder replaced: a placeholder that is the
 * whole string takes the value's own type (a number stays a number), one inside text becomes text.
 */
export function fillTemplate(template: WorkflowTemplate, values: GraphValues): ComfyGraph {
  return substitute(structuredClone(template.graph), values, template.source) as ComfyGraph;
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
    /** A model loader a `LoraLoaderModelOnly` can follow. */
    lora: [...classes].some((c) => MODEL_LOADER_CLASSES.has(c)),
  };
}
