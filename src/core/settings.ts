import { z } from 'zod';
import {
  boolean,
  choice,
  decimal,
  type Field,
  type FieldInfo,
  integer,
  loraUrl,
  numericChoice,
  text,
} from './setting-fields.js';

/**
 * Every setting a user can give, in one table from which Discord options, Slack modal fields, CLI
 * flags and backend inputs are all derived. Field names are those of the default app,
 * `infsh/wan2-1-i2v` (see shared/specs/wan-apps.md §2), so a user who knows the app knows the bot.
 */

export const MODEL_IDS = ['wan2.1', 'wan2.2-a14b', 'wan2.2-5b', 'wan2.2-lightning'] as const;
export type ModelId = (typeof MODEL_IDS)[number];

export const SIZES = ['832x480', '480x832', '1280x720', '720x1280'] as const;
export type Size = (typeof SIZES)[number];
export const RESOLUTIONS = ['480p', '720p'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export const MAX_SEED = 2_147_483_647;
export const PROMPT_MAX_CHARS = 1500;

/** Every user-settable input, in the order a help text shows them. Defaults are the default app's. */
const FIELDS = {
  prompt: text('prompt', {
    description: 'What should happen in the video',
    min: 1,
    max: PROMPT_MAX_CHARS,
    defaultValue: null,
    common: true,
  }),
  negative_prompt: text('negative_prompt', {
    description: 'What the video should avoid',
    min: 0,
    max: PROMPT_MAX_CHARS,
    defaultValue: '',
    common: true,
    aliases: ['negative'],
  }),
  model: choice('model', MODEL_IDS, {
    description: 'Which Wan model renders the video',
    defaultValue: null,
    common: true,
  }),
  size: choice('size', SIZES, {
    description: 'Maximum area; the aspect ratio always follows the image',
    defaultValue: '832x480',
    common: true,
  }),
  num_frames: integer('num_frames', {
    description: 'Frames to render (4n+1; 81 ≈ 5 s at 16 fps)',
    min: 5,
    max: 241,
    defaultValue: 81,
    fourNPlusOne: true,
    common: true,
    aliases: ['frames'],
  }),
  fps: integer('fps', {
    description: 'Playback frame rate',
    min: 4,
    max: 60,
    defaultValue: 16,
    common: true,
  }),
  guidance_scale: decimal('guidance_scale', {
    description: 'How strictly to follow the prompt',
    min: 0,
    max: 20,
    defaultValue: 5,
    common: true,
    aliases: ['guidance', 'cfg'],
  }),
  num_inference_steps: integer('num_inference_steps', {
    description: 'Denoising steps: more is slower and finer',
    min: 1,
    max: 100,
    defaultValue: 30,
    common: true,
    aliases: ['steps'],
  }),
  seed: integer('seed', {
    description: 'Seed for a reproducible result; -1 picks one at random',
    min: -1,
    max: MAX_SEED,
    defaultValue: -1,
    common: true,
  }),
  variants: integer('variants', {
    description: 'How many videos to make at once, each with its own seed (1-4)',
    min: 1,
    max: 4,
    defaultValue: 1,
    common: true,
  }),
  loop: boolean('loop', {
    description: 'End on the start image, so the video loops seamlessly',
    defaultValue: false,
    common: true,
  }),
  sample_solver: choice('sample_solver', ['unipc', 'dpm++'], {
    description: 'Sampler',
    defaultValue: 'unipc',
  }),
  shift: decimal('shift', {
    description: 'Flow shift of the noise schedule',
    min: 0,
    max: 20,
    defaultValue: 5,
  }),
  tea_cache: decimal('tea_cache', {
    description: 'TeaCache step skipping (0 off; 1.5-2.5 faster)',
    min: 0,
    max: 10,
    defaultValue: 2,
  }),
  tea_cache_start_step_perc: integer('tea_cache_start_step_perc', {
    description: 'Percent of steps before TeaCache starts',
    min: 0,
    max: 100,
    defaultValue: 0,
  }),
  lora_file: loraUrl('lora_file', { description: 'https URL of a .safetensors LoRA' }),
  lora_multiplier: decimal('lora_multiplier', {
    description: 'LoRA strength',
    min: 0,
    max: 5,
    defaultValue: 1,
  }),
  vae_tile_size: numericChoice('vae_tile_size', [0, 128, 256], {
    description: 'VAE tile size',
    defaultValue: 128,
  }),
  enable_RIFLEx: boolean('enable_RIFLEx', { description: 'RIFLEx for long videos', defaultValue: true }),
  joint_pass: boolean('joint_pass', { description: 'Joint guidance pass', defaultValue: true }),
  attention: choice('attention', ['sage', 'sdpa'], { description: 'Attention kernel', defaultValue: 'sage' }),
  cfg_star_switch: boolean('cfg_star_switch', { description: 'CFG-Zero* guidance', defaultValue: true }),
  cfg_zero_step: integer('cfg_zero_step', {
    description: 'Step at which CFG-Zero* switches',
    min: 0,
    max: 100,
    defaultValue: 5,
  }),
  add_frames_for_end_image: boolean('add_frames_for_end_image', {
    description: 'Add frames to reach the end image',
    defaultValue: true,
  }),
  temporal_upsampling: choice('temporal_upsampling', ['', 'rife2', 'rife4'], {
    description: 'RIFE frame interpolation (x2 or x4)',
    defaultValue: '',
  }),
  spatial_upsampling: choice('spatial_upsampling', ['', 'lanczos1.5', 'lanczos2'], {
    description: 'Lanczos upscale of every frame',
    defaultValue: '',
  }),
  boundary_ratio: decimal('boundary_ratio', {
    description: 'Wan 2.2: switch point between the two experts',
    min: 0,
    max: 1,
    defaultValue: 0.875,
  }),
  cache_threshold: decimal('cache_threshold', {
    description: 'Wan 2.2 5B: First Block Cache threshold (0 off)',
    min: 0,
    max: 1,
    defaultValue: 0,
  }),
  video_output_quality: integer('video_output_quality', {
    description: 'Wan 2.2 5B: encoder quality',
    min: 1,
    max: 9,
    defaultValue: 5,
  }),
} as const satisfies Record<string, Field>;

export type SettingName = keyof typeof FIELDS;
export const SETTING_NAMES = Object.keys(FIELDS) as SettingName[];
export const FIELD_INFO: readonly FieldInfo[] = SETTING_NAMES.map((name) => FIELDS[name].info);
export const fieldInfo = (name: SettingName): FieldInfo => FIELDS[name].info;
/** The validator of one setting, as a user gives it. */
export const settingSchema = (name: SettingName): z.ZodType => FIELDS[name].schema;

export interface GenerationSettings {
  prompt: string;
  negative_prompt?: string;
  model?: ModelId;
  size?: Size;
  num_frames?: number;
  fps?: number;
  guidance_scale?: number;
  num_inference_steps?: number;
  seed?: number;
  /** How many videos one command makes, each its own job with its own seed (a group). */
  variants?: number;
  /** The end frame is the start image, and the delivered video drops its repeat: it loops seamlessly. */
  loop?: boolean;
  sample_solver?: 'unipc' | 'dpm++';
  shift?: number;
  tea_cache?: number;
  tea_cache_start_step_perc?: number;
  lora_file?: string;
  lora_multiplier?: number;
  vae_tile_size?: number;
  enable_RIFLEx?: boolean;
  joint_pass?: boolean;
  attention?: 'sage' | 'sdpa';
  cfg_star_switch?: boolean;
  cfg_zero_step?: number;
  add_frames_for_end_image?: boolean;
  temporal_upsampling?: '' | 'rife2' | 'rife4';
  spatial_upsampling?: '' | 'lanczos1.5' | 'lanczos2';
  boundary_ratio?: number;
  cache_threshold?: number;
  video_output_quality?: number;
}

/** The validator of each setting, every one but the prompt optional. */
export const settingsShape = Object.fromEntries(
  SETTING_NAMES.map((name) => [
    name,
    name === 'prompt' ? FIELDS[name].schema : FIELDS[name].schema.optional(),
  ]),
);

/** Settings as a user gives them: every field but the prompt optional, unknown keys refused. */
export const generationSettingsSchema = z
  .strictObject(settingsShape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}; known settings: ${SETTING_NAMES.join(', ')}`
        : undefined,
  })
  .transform((value) => value as unknown as GenerationSettings);

const ALIASES: ReadonlyMap<string, SettingName> = new Map(
  SETTING_NAMES.flatMap((name) => {
    const info = FIELDS[name].info;
    return [name, ...info.aliases].flatMap((alias) => [
      [alias.toLowerCase(), name] as const,
      [alias.toLowerCase().replace(/_/g, '-'), name] as const,
      [alias.toLowerCase().replace(/_/g, ''), name] as const,
    ]);
  }),
);

/** `num-frames`, `numFrames`, `frames` and `NUM_FRAMES` all name `num_frames`. */
export function canonicalSettingName(name: string): SettingName | undefined {
  const lowered = name.trim().toLowerCase();
  return ALIASES.get(lowered) ?? ALIASES.get(lowered.replace(/[-_]/g, ''));
}

/** Values the default app would use, for the help text and the schema's own tests. */
export function defaultSettings(): Omit<GenerationSettings, 'prompt'> {
  const out: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const value = FIELDS[name].info.defaultValue;
    if (name !== 'prompt' && value !== null) out[name] = value;
  }
  return out as Omit<GenerationSettings, 'prompt'>;
}
