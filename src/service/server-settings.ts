import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { type Config, configFields } from '../config.js';
import type { Requester } from '../core/job.js';
import { type ModelId, settingSchema } from '../core/settings.js';

/**
 * Per-server settings: what an admin sets for one server (a Discord guild, `dm` for Discord DMs, a
 * Slack workspace), stored in Redis and read on every request, so a change takes effect with the
 * next job and no restart. The environment gives the defaults; a server's value overrides it for
 * that server only. Each value is validated by the very field the environment uses (config.ts's
 * `configFields`, the request schema's `model`), so both accept and refuse the same things.
 *
 * Redis: `<prefix>:server-settings:<platform>:<server>`, a hash of setting → JSON value, kept until
 * reset.
 */

export interface ServerSettingValues {
  /** The model of a request that names none. */
  model: ModelId;
  max_active_per_user: number;
  max_queued_per_user: number;
  quota_per_user_per_day: number;
  quota_per_server_per_day: number;
  quota_overflow: 'refuse' | 'relax';
  /** Channels (ids) Kinema answers in on this server, on top of the environment's allowlist; empty = all. */
  allowed_channels: string[];
  /** Terms refused in prompts on this server, on top of the operator's MODERATION_BLOCKLIST. */
  blocked_terms: string[];
  moderation_text: boolean;
  moderation_images: boolean;
  moderation_nsfw_threshold: number;
  moderation_sexy_threshold: number;
  moderation_allow_in_nsfw_channels: boolean;
}

export type ServerSettingName = keyof ServerSettingValues;

interface SettingDefinition {
  schema: z.ZodType;
  /** The environment variable that gives its default, when there is one. */
  env?: keyof Config;
  about: string;
}

export const SERVER_SETTINGS: Readonly<Record<ServerSettingName, SettingDefinition>> = {
  model: { schema: settingSchema('model'), about: 'the model a request gets when it names none' },
  max_active_per_user: {
    schema: configFields.MAX_ACTIVE_PER_USER,
    env: 'MAX_ACTIVE_PER_USER',
    about: 'videos one person may have rendering at once',
  },
  max_queued_per_user: {
    schema: configFields.MAX_QUEUED_PER_USER,
    env: 'MAX_QUEUED_PER_USER',
    about: 'videos one person may have waiting',
  },
  quota_per_user_per_day: {
    schema: configFields.QUOTA_PER_USER_PER_DAY,
    env: 'QUOTA_PER_USER_PER_DAY',
    about: 'videos per person per 24 hours (0 = unlimited)',
  },
  quota_per_server_per_day: {
    schema: configFields.QUOTA_PER_SERVER_PER_DAY,
    env: 'QUOTA_PER_SERVER_PER_DAY',
    about: 'videos for this server per 24 hours (0 = unlimited)',
  },
  quota_overflow: {
    schema: configFields.QUOTA_OVERFLOW,
    env: 'QUOTA_OVERFLOW',
    about: 'over a quota: refuse, or relax (queued behind everyone within quota)',
  },
  allowed_channels: {
    schema: configFields.DISCORD_ALLOWED_CHANNELS,
    about: 'channel ids Kinema answers in here, comma-separated (empty = every channel)',
  },
  blocked_terms: {
    schema: configFields.MODERATION_BLOCKLIST,
    about: 'extra terms refused in prompts here, comma-separated (*word* matches inside words)',
  },
  moderation_text: {
    schema: configFields.MODERATION_TEXT,
    env: 'MODERATION_TEXT',
    about: 'check prompts and negative prompts',
  },
  moderation_images: {
    schema: configFields.MODERATION_IMAGES,
    env: 'MODERATION_IMAGES',
    about: 'check input images and frames of results',
  },
  moderation_nsfw_threshold: {
    schema: configFields.MODERATION_NSFW_THRESHOLD,
    env: 'MODERATION_NSFW_THRESHOLD',
    about: 'flag an image when porn + hentai reach this (0–1; 1 = off)',
  },
  moderation_sexy_threshold: {
    schema: configFields.MODERATION_SEXY_THRESHOLD,
    env: 'MODERATION_SEXY_THRESHOLD',
    about: 'flag an image when "sexy" reaches this (0–1; 1 = off)',
  },
  moderation_allow_in_nsfw_channels: {
    schema: configFields.MODERATION_ALLOW_IN_NSFW_CHANNELS,
    env: 'MODERATION_ALLOW_IN_NSFW_CHANNELS',
    about: 'allow flagged images in channels marked age-restricted',
  },
};

export const SERVER_SETTING_NAMES = Object.keys(SERVER_SETTINGS) as ServerSettingName[];

/** The environment's values of the settings a server may override (a subset of Config; unset = default). */
export type SettingsEnv = Partial<Pick<Config, NonNullable<SettingDefinition['env']>>>;

/** One server, as the settings, quotas and pauses key it: `discord:<guild id>`, `discord:dm`, `slack:<team id>`. */
export const serverOf = (requester: Pick<Requester, 'platform' | 'scopeId'>) =>
  `${requester.platform}:${requester.scopeId ?? 'global'}`;

/** The defaults every server starts from: the environment's values, else each field's own default. */
export function serverDefaults(env: SettingsEnv, model: ModelId): ServerSettingValues {
  const values: Record<string, unknown> = {};
  for (const name of SERVER_SETTING_NAMES) {
    const { env: variable, schema } = SERVER_SETTINGS[name];
    const given = variable ? env[variable] : undefined;
    values[name] = given ?? (name === 'model' ? model : schema.parse(undefined));
  }
  return values as unknown as ServerSettingValues;
}

export type SetResult<T = unknown> = { ok: true; value: T } | { ok: false; error: string };

/** Reads what an admin typed with the setting's own validator; the error names the setting. */
export function parseServerSetting(name: string, raw: string): SetResult {
  if (!(name in SERVER_SETTINGS)) {
    return {
      ok: false,
      error: `unknown setting ${name}; known settings: ${SERVER_SETTING_NAMES.join(', ')}`,
    };
  }
  const parsed = SERVER_SETTINGS[name as ServerSettingName].schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const message = parsed.error.issues[0]?.message ?? 'is not valid';
  return { ok: false, error: message.startsWith(name) ? message : `${name} ${message}` };
}

export class ServerSettings {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly defaults: ServerSettingValues,
  ) {}

  private key(server: string) {
    return `${this.prefix}:server-settings:${server}`;
  }

  /** What the server set itself; a stored value that no longer validates is left out. */
  async overrides(server: string): Promise<Partial<ServerSettingValues>> {
    const stored = await this.redis.hgetall(this.key(server));
    const values: Record<string, unknown> = {};
    for (const [name, raw] of Object.entries(stored)) {
      const definition = SERVER_SETTINGS[name as ServerSettingName];
      if (!definition) continue;
      const parsed = definition.schema.safeParse(JSON.parse(raw));
      if (parsed.success) values[name] = parsed.data;
    }
    return values as Partial<ServerSettingValues>;
  }

  /** The settings a request in this server runs under. */
  async effective(server: string): Promise<ServerSettingValues> {
    return { ...this.defaults, ...(await this.overrides(server)) };
  }

  async set(server: string, name: string, raw: string): Promise<SetResult> {
    const parsed = parseServerSetting(name, raw);
    if (parsed.ok) await this.redis.hset(this.key(server), name, JSON.stringify(parsed.value));
    return parsed;
  }

  /** Back to the environment's value. */
  async reset(server: string, name: ServerSettingName): Promise<void> {
    await this.redis.hdel(this.key(server), name);
  }
}
