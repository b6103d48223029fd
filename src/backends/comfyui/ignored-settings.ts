import type { GenerationRequest, SettingName } from '../../core/request.js';
import { templateSupports, type WorkflowTemplate } from './template.js';

/**
 * What the self-hosted backend drops from a request, as notes for the user: settings with no
 * ComfyUI equivalent at all (spec §10), and settings the configured workflow cannot express.
 */

/** Settings with no ComfyUI equivalent on this backend, whatever the template. */
const NO_EQUIVALENT: readonly SettingName[] = [
  'tea_cache',
  'tea_cache_start_step_perc',
  'cfg_zero_step',
  'enable_RIFLEx',
  'joint_pass',
  'attention',
  'temporal_upsampling',
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
export function describeIgnoredSettings(
  request: GenerationRequest,
  template: WorkflowTemplate,
  loras = false,
): string[] {
  const notes: string[] = [];
  if (request.model !== 'wan2.1') {
    notes.push(
      `the self-hosted ComfyUI backend runs Wan 2.1 weights, so the video is made with Wan 2.1 instead of ${request.model}`,
    );
  }
  const ignored: string[] = [];
  // Without a loras folder the service refuses a LoRA before queueing; this names it if one slips by.
  for (const name of loras
    ? NO_EQUIVALENT
    : [...NO_EQUIVALENT, 'lora_file' as const, 'lora_multiplier' as const]) {
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
  if (loras && request.lora_file && !supports.lora) unused.push('lora_file');
  if (unused.length > 0) {
    notes.push(
      `${listed(unused)} ${unused.length > 1 ? 'are' : 'is'} not used by the configured ComfyUI workflow and ${unused.length > 1 ? 'were' : 'was'} ignored`,
    );
  }
  return notes;
}
