import { z } from 'zod';
import { MODEL_PROFILES } from './models.js';

/**
 * The generation request: one schema from which Discord options, Slack modal fields, CLI flags and
 * backend inputs are all derived. Field names are those of the default app, `infsh/wan2-1-i2v`
 * (see shared/specs/wan-apps.md §2), so a user who knows the app knows the bot.
 */

export const MODEL_IDS = ['wan2.1', 'wan2.2-a14b', 'wan2.2-5b', 'wan2.2-lightning'] as const;
export type ModelId = (typeof MODEL_IDS)[number];

export const SIZES = ['832x480', '480x832', '1280x720', '720x1280'] as const;
export type Size = (typeof SIZES)[number];
export const RESOLUTIONS = ['480p', '720p'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export const MAX_SEED = 2_147_483_647;
export const PROMPT_MAX_CHARS = 1500;

type FieldKind = 'text' | 'integer' | 'number' | 'boolean' | 'choice' | 'url';

/** What a platform needs to render one option; derived from the same place as the validator. */
export interface FieldInfo {
  readonly name: string;
  readonly kind: FieldKind;
  readonly description: string;
  readonly defaultValue: string | number | boolean | null;
  readonly choices?: readonly (string | number)[];
  readonly min?: number;
  readonly max?: number;
  readonly maxLength?: number;
  /** Shown as a first-class option in chat; the rest go through the `advanced` key=value field. */
  readonly common: boolean;
  /** Other names accepted on input (CLI flags, `advanced`), e.g. `frames` for `num_frames`. */
  readonly aliases: readonly string[];
}

interface Field {
  info: FieldInfo;
  schema: z.ZodType;
}

const numberFrom = (value: unknown) => {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  return trimmed === '' || Number.isNaN(Number(trimmed)) ? value : Number(trimmed);
};
const booleanFrom = (value: unknown) => {
  if (typeof value !== 'string') return value;
  if (/^(true|yes|on|1)$/i.test(value.trim())) return true;
  if (/^(false|no|off|0)$/i.test(value.trim())) return false;
  return value;
};

interface Common {
  description: string;
  common?: boolean;
  aliases?: string[];
}

function text(name: string, opts: Common & { min: number; max: number; defaultValue: string | null }): Field {
  const message = `${name} must be ${opts.min} to ${opts.max} characters`;
  return {
    info: { name, kind: 'text', maxLength: opts.max, common: false, aliases: [], ...opts },
    schema: z
      .string({ error: `${name} must be text` })
      .trim()
      .min(opts.min, { error: `${message} (it is empty)` })
      .max(opts.max, { error: (issue) => `${message} (it has ${String(issue.input ?? '').length})` }),
  };
}

function integer(
  name: string,
  opts: Common & { min: number; max: number; defaultValue: number; fourNPlusOne?: boolean },
): Field {
  const range = opts.fourNPlusOne
    ? `a number of the form 4n+1 from ${opts.min} to ${opts.max}, e.g. 81`
    : `a whole number from ${opts.min} to ${opts.max}`;
  let schema = z
    .number({ error: (issue) => `${name} must be ${range} (got ${JSON.stringify(issue.input)})` })
    .int({ error: (issue) => `${name} must be ${range} (got ${JSON.stringify(issue.input)})` })
    .min(opts.min, { error: (issue) => `${name} must be ${range} (got ${JSON.stringify(issue.input)})` })
    .max(opts.max, { error: (issue) => `${name} must be ${range} (got ${JSON.stringify(issue.input)})` });
  if (opts.fourNPlusOne) {
    schema = schema.refine((n) => (n - 1) % 4 === 0, {
      error: (issue) => {
        const n = Number(issue.input);
        const below = Math.floor((n - 1) / 4) * 4 + 1;
        return `${name} must be ${range} (got ${n}; the nearest allowed values are ${below} and ${below + 4})`;
      },
    });
  }
  return {
    info: { name, kind: 'integer', common: false, aliases: [], ...opts },
    schema: z.preprocess(numberFrom, schema),
  };
}

function decimal(name: string, opts: Common & { min: number; max: number; defaultValue: number }): Field {
  const message = `${name} must be a number from ${opts.min} to ${opts.max}`;
  return {
    info: { name, kind: 'number', common: false, aliases: [], ...opts },
    schema: z.preprocess(
      numberFrom,
      z
        .number({ error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` })
        .min(opts.min, { error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` })
        .max(opts.max, { error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` }),
    ),
  };
}

function boolean(name: string, opts: Common & { defaultValue: boolean }): Field {
  return {
    info: { name, kind: 'boolean', common: false, aliases: [], ...opts },
    schema: z.preprocess(
      booleanFrom,
      z.boolean({ error: (issue) => `${name} must be true or false (got ${JSON.stringify(issue.input)})` }),
    ),
  };
}

function choice<const T extends readonly [string, ...string[]]>(
  name: string,
  values: T,
  opts: Common & { defaultValue: T[number] | null },
): Field {
  const shown = values.map((v) => (v === '' ? '"" (off)' : v)).join(', ');
  return {
    info: { name, kind: 'choice', choices: values, common: false, aliases: [], ...opts },
    schema: z.enum(values, {
      error: (issue) => `${name} must be one of ${shown} (got ${JSON.stringify(issue.input)})`,
    }),
  };
}

function numericChoice(
  name: string,
  values: readonly number[],
  opts: Common & { defaultValue: number },
): Field {
  const message = `${name} must be one of ${values.join(', ')}`;
  return {
    info: { name, kind: 'choice', choices: values, common: false, aliases: [], ...opts },
    schema: z.preprocess(
      numberFrom,
      z
        .number({ error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` })
        .refine((n) => values.includes(n), {
          error: (issue) => `${message} (got ${JSON.stringify(issue.input)})`,
        }),
    ),
  };
}

function loraUrl(name: string, opts: Common): Field {
  const message = `${name} must be an https:// URL to a .safetensors file`;
  return {
    info: { name, kind: 'url', defaultValue: null, common: false, aliases: [], ...opts },
    schema: z
      .string({ error: message })
      .trim()
      .max(2000, { error: `${message} (at most 2000 characters)` })
      .refine(
        (value) => {
          try {
            const url = new URL(value);
            return url.protocol === 'https:' && url.pathname.toLowerCase().endsWith('.safetensors');
          } catch {
            return false;
          }
        },
        { error: (issue) => `${message} (got ${JSON.stringify(issue.input)})` },
      ),
  };
}

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

const settingsShape = Object.fromEntries(
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

/** A stored copy of an input image, made at enqueue; chat CDN URLs expire, this does not. */
export const storedImageSchema = z.object({
  key: z.string().min(1),
  contentType: z.enum(['image/png', 'image/jpeg', 'image/webp']),
  bytes: z.number().int().positive(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  filename: z.string().min(1),
});
export type StoredImage = z.infer<typeof storedImageSchema>;

/** What a job carries: the settings with a concrete seed and model, plus the stored images. */
export interface GenerationRequest extends GenerationSettings {
  model: ModelId;
  seed: number;
  input_image: StoredImage;
  end_frame?: StoredImage;
}

export const generationRequestSchema: z.ZodType<GenerationRequest> = z
  .object({
    ...settingsShape,
    model: FIELDS.model.schema,
    seed: z.number().int().min(0).max(MAX_SEED),
    input_image: storedImageSchema,
    end_frame: storedImageSchema.optional(),
  })
  .transform((value) => value as unknown as GenerationRequest);

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

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/**
 * Validates raw settings from any surface (typed options, modal text, CLI strings). `resolution`
 * (480p / 720p) is accepted as a friendlier spelling of `size`; `seconds` as a spelling of frames.
 */
export function parseSettings(raw: Record<string, unknown>): Parsed<GenerationSettings> {
  const errors: string[] = [];
  const input: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined || value === null) continue;
    const lowered = key.trim().toLowerCase();
    if (lowered === 'resolution') {
      const resolution = String(value).trim().toLowerCase();
      if (resolution === '480p') input.size = '832x480';
      else if (resolution === '720p') input.size = '1280x720';
      else errors.push(`resolution must be one of 480p, 720p (got ${JSON.stringify(value)})`);
      continue;
    }
    if (lowered === 'seconds' || lowered === 'duration') {
      const seconds = Number(value);
      if (!Number.isFinite(seconds) || seconds < 0.5 || seconds > 15) {
        errors.push(`seconds must be a number from 0.5 to 15 (got ${JSON.stringify(value)})`);
        continue;
      }
      input.__seconds = seconds;
      continue;
    }
    const name = canonicalSettingName(key);
    if (!name) {
      unknown.push(key);
      continue;
    }
    input[name] = value;
  }
  if (unknown.length > 0) {
    errors.push(
      `unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known settings: resolution, seconds, ${SETTING_NAMES.join(', ')}`,
    );
  }
  if (typeof input.__seconds === 'number') {
    // The chosen model's own frame rate when fps is not given (Wan 2.2 5B plays at 24 fps).
    const model = MODEL_IDS.find((id) => id === input.model);
    const fps = Number(
      input.fps ?? (model ? MODEL_PROFILES[model].defaults.fps : FIELDS.fps.info.defaultValue),
    );
    // Frames must be 4n+1; round to the nearest such count for the asked duration.
    input.num_frames ??= Math.max(5, Math.min(241, Math.round((input.__seconds * fps - 1) / 4) * 4 + 1));
    delete input.__seconds;
  }
  const result = generationSettingsSchema.safeParse(input);
  if (!result.success) errors.push(...result.error.issues.map((issue) => issue.message));
  if (errors.length > 0) return { ok: false, errors: [...new Set(errors)] };
  if (!result.success) return { ok: false, errors };
  return { ok: true, value: result.data };
}

/**
 * Parses `key=value` pairs from one line of text (the chat `advanced` option). Values with spaces go
 * in double quotes: `negative_prompt="blurry, static" shift=3`.
 */
export function parseKeyValues(text: string): Parsed<Record<string, string>> {
  const pairs: Record<string, string> = {};
  const errors: string[] = [];
  const pattern = /\s*([A-Za-z_][\w.-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(\S*))/y;
  let index = 0;
  const source = text.trim();
  while (index < source.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(source);
    if (!match) {
      const rest = source.slice(index).trim().split(/\s+/)[0];
      errors.push(`could not read "${rest}": write settings as key=value, e.g. shift=3 tea_cache=0`);
      break;
    }
    pairs[match[1]!] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
    index = pattern.lastIndex;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: pairs };
}

/** Seed -1 (or none) means random: draw it now so the result can always be reproduced. */
export function resolveSeed(seed: number | undefined, random: () => number = Math.random): number {
  if (seed !== undefined && seed >= 0) return seed;
  return Math.floor(random() * (MAX_SEED + 1));
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

/** Turns validated settings and stored images into the request a job carries. */
export function finaliseRequest(
  settings: GenerationSettings,
  images: { input_image: StoredImage; end_frame?: StoredImage },
  defaultModel: ModelId,
  random: () => number = Math.random,
): GenerationRequest {
  return {
    ...settings,
    model: settings.model ?? defaultModel,
    seed: resolveSeed(settings.seed, random),
    input_image: images.input_image,
    ...(images.end_frame ? { end_frame: images.end_frame } : {}),
  };
}
