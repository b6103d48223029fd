import { MODEL_PROFILES } from './models.js';
import {
  canonicalSettingName,
  fieldInfo,
  type GenerationSettings,
  generationSettingsSchema,
  MODEL_IDS,
  SETTING_NAMES,
} from './settings.js';

/** Reading settings as people type them: typed options, modal text, CLI strings, `key=value` lines. */

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
      input.fps ?? (model ? MODEL_PROFILES[model].defaults.fps : fieldInfo('fps').defaultValue),
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
