import type { GenerationRequest } from './generation-request.js';
import { effectiveShape, MODEL_PROFILES, takesSetting } from './models.js';
import { fieldInfo, type GenerationSettings, SETTING_NAMES, type SettingName } from './settings.js';

/**
 * A result's settings as people read and retype them, platform-neutrally: the "Details" answer
 * (every value it was given, plus the model's length, fps, steps and size when left out, so anyone
 * can reproduce it), the equivalent
 * `/animate` options, and the values a "Remix" form opens with.
 */

/** Settings the run was given, in the table's order (the model's defaults filled in where it has one). */
function usedSettings(request: GenerationRequest): [SettingName, string | number | boolean][] {
  const profile = MODEL_PROFILES[request.model];
  const shape = profile ? effectiveShape(request, profile) : undefined;
  const effective: Partial<Record<SettingName, string | number | boolean | undefined>> = {
    ...(request as Partial<Record<SettingName, string | number | boolean>>),
    ...(shape
      ? { size: shape.size, num_frames: shape.numFrames, fps: shape.fps, num_inference_steps: shape.steps }
      : {}),
  };
  const out: [SettingName, string | number | boolean][] = [];
  for (const name of SETTING_NAMES) {
    // Other defaults differ by model and app (guidance is 3.5 on Wan 2.2, 5 on 2.1): only what was given.
    const value = effective[name];
    if (value !== null && value !== undefined) out.push([name, value]);
  }
  return out;
}

/** `key=value` text of the given settings, quoted where needed (what `advanced` reads back). */
export function keyValues(pairs: [string, string | number | boolean][]): string {
  return pairs
    .map(([name, value]) => {
      const text = String(value);
      return /^[^\s"=]+$/.test(text) ? `${name}=${text}` : `${name}="${text.replace(/(["\\])/g, '\\$1')}"`;
    })
    .join(' ');
}

export interface ResultDetails {
  /** Human lines: "Seed: 123", "Model: Wan 2.1 I2V 14B (wan2.1)", "Length: 81 frames (5.1 s at 16 fps)"… */
  lines: string[];
  /** The `/animate` options that reproduce it with the same image (prompt first). */
  options: [string, string][];
}

/** What a finished (or running) job used, for the "Details" answer. */
export function resultDetails(request: GenerationRequest): ResultDetails {
  const used = new Map(usedSettings(request));
  const profile = MODEL_PROFILES[request.model];
  const frames = Number(used.get('num_frames'));
  const fps = Number(used.get('fps'));
  const lines = [
    `Seed: ${request.seed}`,
    `Model: ${profile ? `${profile.label} (${request.model})` : request.model}`,
    `Length: ${frames} frames (${(frames / fps).toFixed(1)} s at ${fps} fps)`,
    `Size: ${used.get('size')}`,
    `Steps: ${used.get('num_inference_steps')}`,
  ];
  if (!profile || takesSetting(profile, 'guidance_scale')) {
    lines.push(`Guidance: ${used.get('guidance_scale') ?? "the model's default"}`);
  }
  lines.push(`Negative prompt: ${request.negative_prompt ? `“${request.negative_prompt}”` : '(none)'}`);
  const shown = new Set<string>(['prompt', 'negative_prompt', 'seed', 'model', 'size', 'num_frames', 'fps']);
  shown.add('num_inference_steps').add('guidance_scale').add('loop');
  const others = [...used].filter(([name]) => !shown.has(name));
  if (others.length > 0) lines.push(`Other settings: ${keyValues(others)}`);
  if (request.end_frame) lines.push(`End frame: ${request.end_frame.filename}`);
  if (request.loop) lines.push('Loop: yes (it ends on its start image; the repeated frame is dropped)');
  lines.push(
    `Image: ${request.input_image.filename} (${request.input_image.width}×${request.input_image.height})`,
  );
  return { lines, options: reproduceOptions(request) };
}

/** The options of `/animate` that ask for exactly this run: explicit settings, the resolved model and seed. */
function reproduceOptions(request: GenerationRequest): [string, string][] {
  const given = SETTING_NAMES.filter((name) => {
    const value = (request as Partial<Record<SettingName, unknown>>)[name];
    return value !== undefined && value !== null && value !== '';
  });
  const common = given.filter((name) => fieldInfo(name).common);
  const advanced = given
    .filter((name) => !fieldInfo(name).common)
    .map((name): [string, string | number | boolean] => [name, request[name as keyof GenerationSettings]!]);
  const options: [string, string][] = common.map((name) => [
    name,
    String(request[name as keyof GenerationSettings]),
  ]);
  if (advanced.length > 0) options.push(['advanced', keyValues(advanced)]);
  return options;
}

/**
 * The values a Remix form opens with, by setting: every one the parent was given, its model and seed,
 * and the length and size it used (its model's defaults when they were left out).
 */
export function remixValues(request: GenerationRequest): Map<SettingName, string> {
  const profile = MODEL_PROFILES[request.model];
  const shape = profile ? effectiveShape(request, profile) : undefined;
  const values = new Map<SettingName, string>();
  for (const name of SETTING_NAMES) {
    const value =
      request[name] ?? (name === 'size' ? shape?.size : name === 'num_frames' ? shape?.numFrames : undefined);
    if (value !== undefined && value !== null) values.set(name, String(value));
  }
  return values;
}

/**
 * The request a Remix runs: the parent's image, end frame and settings, with the edited settings on
 * top; a seed left out or -1 is drawn anew by the caller.
 */
export function remixSettings(parent: GenerationRequest, edited: GenerationSettings): GenerationSettings {
  const { input_image: _image, end_frame: _end, seed: _seed, ...settings } = parent;
  return { ...settings, ...edited };
}
