import type { GenerationRequest } from './generation-request.js';
import type { ModelId, SettingName, Size } from './settings.js';

/**
 * Model profiles: how the one request maps onto each supported app (shared/specs/wan-apps.md §6).
 * They are data, not code paths: switching the default app is a configuration change.
 */

type Mapping = (request: GenerationRequest) => Record<string, unknown>;

export interface ModelProfile {
  readonly id: ModelId;
  readonly label: string;
  /** inference.sh app reference, `namespace/name`. */
  readonly app: string;
  readonly imageField: string;
  readonly endImageField: string;
  /** Key of the video in the task output. */
  readonly outputField: string;
  /** Required input fields the adapter fills, checked against the app's published schema. */
  readonly requiredFields: readonly string[];
  /** Settings this app accepts, each mapped to the app's own input fields. */
  readonly fields: Partial<Record<SettingName, Mapping>>;
  /** The app's own defaults, for the status line and ETA keys. */
  readonly defaults: { num_frames: number; fps: number; num_inference_steps: number; size: Size };
  /** Wan 2.1's schema declares file inputs as objects; the Wan 2.2 apps take plain URLs. */
  readonly fileForm: 'string' | 'object';
  /** Settings the app accepts but whose value changes nothing (wan-apps.md: "not used"). */
  readonly inert?: readonly SettingName[];
}

const same =
  (name: SettingName, target: string = name): Mapping =>
  (request) =>
    request[name] === undefined ? {} : { [target]: request[name] };

export const resolutionOf = (size: Size): '480p' | '720p' => (size.includes('1280') ? '720p' : '480p');

const wan22Resolution: Mapping = (request) =>
  request.size === undefined ? {} : { resolution: resolutionOf(request.size) };

const wan22Common: Partial<Record<SettingName, Mapping>> = {
  prompt: same('prompt'),
  negative_prompt: same('negative_prompt'),
  size: wan22Resolution,
  num_frames: same('num_frames'),
  fps: same('fps'),
  num_inference_steps: same('num_inference_steps'),
  seed: same('seed'),
};

export const MODEL_PROFILES: Readonly<Record<ModelId, ModelProfile>> = {
  'wan2.1': {
    id: 'wan2.1',
    label: 'Wan 2.1 I2V 14B',
    app: 'infsh/wan2-1-i2v',
    imageField: 'input_image',
    endImageField: 'end_frame',
    outputField: 'video',
    requiredFields: ['prompt', 'input_image'],
    defaults: { num_frames: 81, fps: 16, num_inference_steps: 30, size: '832x480' },
    fileForm: 'string',
    inert: [
      'sample_solver',
      'lora_file',
      'lora_multiplier',
      'vae_tile_size',
      'joint_pass',
      'attention',
      'add_frames_for_end_image',
    ],
    fields: {
      prompt: same('prompt'),
      negative_prompt: same('negative_prompt'),
      // The app keeps the image's aspect ratio; the size only picks the area.
      size: same('size'),
      num_frames: same('num_frames'),
      guidance_scale: same('guidance_scale'),
      num_inference_steps: same('num_inference_steps'),
      seed: same('seed'),
      sample_solver: same('sample_solver'),
      shift: same('shift'),
      tea_cache: same('tea_cache'),
      tea_cache_start_step_perc: same('tea_cache_start_step_perc'),
      lora_file: same('lora_file'),
      lora_multiplier: same('lora_multiplier'),
      vae_tile_size: same('vae_tile_size'),
      enable_RIFLEx: same('enable_RIFLEx'),
      joint_pass: same('joint_pass'),
      attention: same('attention'),
      cfg_star_switch: same('cfg_star_switch'),
      cfg_zero_step: same('cfg_zero_step'),
      add_frames_for_end_image: same('add_frames_for_end_image'),
      temporal_upsampling: same('temporal_upsampling'),
      spatial_upsampling: same('spatial_upsampling'),
    },
  },
  'wan2.2-a14b': {
    id: 'wan2.2-a14b',
    label: 'Wan 2.2 I2V A14B',
    app: 'infsh/wan2-2-i2v-a14b',
    imageField: 'image',
    endImageField: 'end_image',
    outputField: 'file',
    requiredFields: ['prompt', 'image'],
    defaults: { num_frames: 81, fps: 16, num_inference_steps: 40, size: '1280x720' },
    fileForm: 'string',
    fields: {
      ...wan22Common,
      guidance_scale: same('guidance_scale'),
      boundary_ratio: same('boundary_ratio'),
    },
  },
  'wan2.2-5b': {
    id: 'wan2.2-5b',
    label: 'Wan 2.2 TI2V 5B',
    app: 'infsh/wan2-2-i2v-5b',
    imageField: 'image',
    endImageField: 'end_image',
    outputField: 'file',
    requiredFields: ['prompt', 'image'],
    defaults: { num_frames: 121, fps: 24, num_inference_steps: 50, size: '1280x720' },
    fileForm: 'string',
    fields: {
      ...wan22Common,
      guidance_scale: same('guidance_scale'),
      cache_threshold: same('cache_threshold'),
      video_output_quality: same('video_output_quality'),
    },
  },
  'wan2.2-lightning': {
    id: 'wan2.2-lightning',
    label: 'Wan 2.2 Lightning A14B',
    app: 'infsh/lightning-wan-2-2-i2v-a14b',
    imageField: 'image',
    endImageField: 'end_image',
    outputField: 'file',
    requiredFields: ['prompt', 'image'],
    defaults: { num_frames: 81, fps: 16, num_inference_steps: 4, size: '832x480' },
    fileForm: 'string',
    // Guidance is fixed at 1.0 there, so the negative prompt is never applied.
    inert: ['negative_prompt'],
    fields: {
      ...wan22Common,
      boundary_ratio: same('boundary_ratio'),
    },
  },
};

/** The app part of `namespace/name@version`. */
export const appName = (app: string): string => app.split('@')[0]!;

export function modelForApp(app: string): ModelProfile | undefined {
  const name = appName(app);
  return Object.values(MODEL_PROFILES).find((profile) => profile.app === name);
}

export interface AppInput {
  input: Record<string, unknown>;
  /** Settings the model does not understand, dropped and listed for the user. */
  ignored: SettingName[];
  /** Settings the user gave that the app takes but does not act on; sent, and listed too. */
  inert: SettingName[];
}

/** Settings with no effect anywhere in the mapping. `prompt`, `model` and `seed` are always used. */
const NEVER_IGNORED: ReadonlySet<SettingName> = new Set(['prompt', 'model']);

/**
 * Builds the app input for a request. File fields are filled by the caller with uploaded URIs.
 * A setting the user gave that the app has no field for is dropped and reported, never silently.
 */
export function mapToApp(
  request: GenerationRequest,
  profile: ModelProfile,
  files: { image: string; endImage?: string },
): AppInput {
  const input: Record<string, unknown> = {};
  const ignored: SettingName[] = [];
  const inert = (profile.inert ?? []).filter((name) => request[name] !== undefined);
  for (const [name, value] of Object.entries(request) as [keyof GenerationRequest, unknown][]) {
    if (value === undefined || name === 'input_image' || name === 'end_frame') continue;
    const setting = name as SettingName;
    if (NEVER_IGNORED.has(setting)) continue;
    const mapping = profile.fields[setting];
    if (!mapping) {
      ignored.push(setting);
      continue;
    }
    Object.assign(input, mapping(request));
  }
  Object.assign(input, profile.fields.prompt?.(request));
  const asFile = (uri: string) => (profile.fileForm === 'object' ? { uri } : uri);
  input[profile.imageField] = asFile(files.image);
  if (files.endImage) input[profile.endImageField] = asFile(files.endImage);
  return { input, ignored, inert };
}

/** The frame count, fps and steps the run will actually use, for status text and ETA keys. */
export function effectiveShape(request: GenerationRequest, profile: ModelProfile) {
  return {
    numFrames: request.num_frames ?? profile.defaults.num_frames,
    fps: profile.fields.fps ? (request.fps ?? profile.defaults.fps) : profile.defaults.fps,
    steps: request.num_inference_steps ?? profile.defaults.num_inference_steps,
    size: request.size ?? profile.defaults.size,
  };
}
