import type { GenerationRequest } from './generation-request.js';
import type { ModelId, SettingName, Size } from './settings.js';

/**
 * What each model is, whatever renders it: its name, the settings it takes, and what it does with
 * the ones left out (shared/specs/wan-apps.md §6). How a backend spells these for its service (the
 * inference.sh apps' JSON, a ComfyUI graph) lives with that backend.
 */

export interface ModelProfile {
  readonly id: ModelId;
  readonly label: string;
  /** Settings the model takes; any other a user gives is dropped and listed. `model` always applies. */
  readonly settings: readonly SettingName[];
  /** Settings it takes whose value changes nothing (wan-apps.md: "not used"); listed for the user too. */
  readonly inert?: readonly SettingName[];
  /** What the model uses for a setting left out, for the status line and ETA keys. */
  readonly defaults: { num_frames: number; fps: number; num_inference_steps: number; size: Size };
}

export const resolutionOf = (size: Size): '480p' | '720p' => (size.includes('1280') ? '720p' : '480p');

const WAN22_COMMON: readonly SettingName[] = [
  'prompt',
  'negative_prompt',
  'size',
  'num_frames',
  'fps',
  'num_inference_steps',
  'seed',
];

export const MODEL_PROFILES: Readonly<Record<ModelId, ModelProfile>> = {
  'wan2.1': {
    id: 'wan2.1',
    label: 'Wan 2.1 I2V 14B',
    defaults: { num_frames: 81, fps: 16, num_inference_steps: 30, size: '832x480' },
    inert: [
      'sample_solver',
      'lora_file',
      'lora_multiplier',
      'vae_tile_size',
      'joint_pass',
      'attention',
      'add_frames_for_end_image',
    ],
    // No fps: it always plays at 16 fps. The size only picks the area; the image keeps its aspect ratio.
    settings: [
      'prompt',
      'negative_prompt',
      'size',
      'num_frames',
      'guidance_scale',
      'num_inference_steps',
      'seed',
      'sample_solver',
      'shift',
      'tea_cache',
      'tea_cache_start_step_perc',
      'lora_file',
      'lora_multiplier',
      'vae_tile_size',
      'enable_RIFLEx',
      'joint_pass',
      'attention',
      'cfg_star_switch',
      'cfg_zero_step',
      'add_frames_for_end_image',
      'temporal_upsampling',
      'spatial_upsampling',
    ],
  },
  'wan2.2-a14b': {
    id: 'wan2.2-a14b',
    label: 'Wan 2.2 I2V A14B',
    defaults: { num_frames: 81, fps: 16, num_inference_steps: 40, size: '1280x720' },
    settings: [...WAN22_COMMON, 'guidance_scale', 'boundary_ratio'],
  },
  'wan2.2-5b': {
    id: 'wan2.2-5b',
    label: 'Wan 2.2 TI2V 5B',
    defaults: { num_frames: 121, fps: 24, num_inference_steps: 50, size: '1280x720' },
    settings: [...WAN22_COMMON, 'guidance_scale', 'cache_threshold', 'video_output_quality'],
  },
  'wan2.2-lightning': {
    id: 'wan2.2-lightning',
    label: 'Wan 2.2 Lightning A14B',
    defaults: { num_frames: 81, fps: 16, num_inference_steps: 4, size: '832x480' },
    // Guidance is fixed at 1.0 there, so the negative prompt is never applied.
    inert: ['negative_prompt'],
    settings: [...WAN22_COMMON, 'boundary_ratio'],
  },
};

/** Whether a model takes a setting at all. */
export const takesSetting = (profile: ModelProfile, name: SettingName): boolean =>
  profile.settings.includes(name);

/** The frame count, fps and steps the run will actually use, for status text and ETA keys. */
export function effectiveShape(request: GenerationRequest, profile: ModelProfile) {
  return {
    numFrames: request.num_frames ?? profile.defaults.num_frames,
    fps: takesSetting(profile, 'fps') ? (request.fps ?? profile.defaults.fps) : profile.defaults.fps,
    steps: request.num_inference_steps ?? profile.defaults.num_inference_steps,
    size: request.size ?? profile.defaults.size,
  };
}
