import {
  canonicalSettingName,
  type GenerationSettings,
  parseKeyValues,
  parseSettings,
  SETTING_NAMES,
} from '../../core/request.js';

/** Where a setting came from: a modal field (its block id) or the `advanced` key=value text. */
export const ADVANCED = 'advanced';

export type SettingsResult =
  | { ok: true; value: GenerationSettings }
  | { ok: false; errors: string[]; bySource: Map<string, string[]> };

/** Longest names first, so `seed` never claims an error about `seeds…` and so on. */
const NAMES_LONGEST_FIRST = [...SETTING_NAMES].sort((a, b) => b.length - a.length);

/**
 * Validates typed fields plus the `advanced` key=value text with the core schema (fields win over
 * `advanced`), and says which source each error belongs to, for inline modal errors.
 */
export function readSettings(fields: Record<string, unknown>, advanced?: string | null): SettingsResult {
  const bySource = new Map<string, string[]>();
  const add = (source: string, error: string) =>
    bySource.set(source, [...(bySource.get(source) ?? []), error]);
  let raw: Record<string, unknown> = {};
  if (advanced?.trim()) {
    const pairs = parseKeyValues(advanced);
    if (pairs.ok) raw = { ...pairs.value };
    else for (const error of pairs.errors) add(ADVANCED, error);
  }
  // Errors about a setting with its own field show on that field, even when it was left empty.
  const typed = new Set(Object.keys(fields).map((key) => canonicalSettingName(key) ?? key));
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined || value === '') continue;
    const name = canonicalSettingName(key) ?? key;
    // A typed field replaces whatever `advanced` said about the same setting, under any alias.
    for (const other of Object.keys(raw)) if (canonicalSettingName(other) === name) delete raw[other];
    raw[name] = value;
  }
  const parsed = parseSettings(raw);
  if (!parsed.ok) {
    for (const error of parsed.errors) {
      const name = NAMES_LONGEST_FIRST.find((candidate) => error.startsWith(`${candidate} `));
      add(name && typed.has(name) ? name : ADVANCED, error);
    }
  }
  if (bySource.size > 0 || !parsed.ok) {
    return { ok: false, errors: [...bySource.values()].flat(), bySource };
  }
  return { ok: true, value: parsed.value };
}

const SPECIAL = new Set(['resolution', 'seconds', 'duration']);
const isSettingKey = (key: string) =>
  SPECIAL.has(key.toLowerCase()) || canonicalSettingName(key) !== undefined;

/** Slack message text as people typed it: mentions dropped, links and entities decoded. */
export function plainText(text: string): string {
  return text
    .replace(/<[@#!][^>]*>/g, ' ')
    .replace(/<([^>|]+)\|([^>]*)>/g, '$2')
    .replace(/<([^>]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+/g, ' ')
    .trim();
}

/**
 * Splits a mention such as `@Kinema the cat yawns num_frames=49 seed=7` into the prompt and the
 * trailing settings (from the first `known_setting=` on).
 */
export function splitMessage(text: string): { prompt: string; advanced: string } {
  const clean = plainText(text);
  const pattern = /(^|\s)([A-Za-z_][\w.-]*)\s*=/g;
  for (let match = pattern.exec(clean); match; match = pattern.exec(clean)) {
    if (isSettingKey(match[2]!)) {
      const start = match.index + match[1]!.length;
      return { prompt: clean.slice(0, start).trim(), advanced: clean.slice(start).trim() };
    }
  }
  return { prompt: clean, advanced: '' };
}
