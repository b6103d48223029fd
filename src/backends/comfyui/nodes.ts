/**
 * The API-format graph (shared/specs/comfyui-api.md §9) and the node classes Kinema recognises in
 * it: samplers carry most of the progress, decoders and video outputs are where extras attach.
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
/** The nodes whose output 0 is the diffusion MODEL, where a LoRA loader attaches (spec §10). */
export const MODEL_LOADER_CLASSES: ReadonlySet<string> = new Set([
  'UNETLoader',
  'CheckpointLoaderSimple',
  'UnetLoaderGGUF',
]);
/** The nodes that hold the frame size and count. */
export const FRAME_CLASSES: ReadonlySet<string> = new Set(['WanImageToVideo', 'WanFirstLastFrameToVideo']);

export const nodesOf = (graph: ComfyGraph, predicate: (classType: string) => boolean) =>
  Object.entries(graph).filter(([, node]) => predicate(node.class_type));
