import { existsSync } from 'node:fs';
import { z } from 'zod';
import {
  csv,
  emptyAsUndefined,
  flag,
  fraction,
  int,
  optionalString,
  optionalUrl,
  ownerIds,
  priceTable,
  quota,
} from './config-values.js';

/**
 * Every setting comes from the environment (and `.env` when present). The names are a contract with
 * deployments and docs: rename nothing without a migration note in the README.
 */

/**
 * Each setting's own validator, exported so per-server settings (service/server-settings.ts)
 * validate what an admin types with exactly the rules of the environment.
 */
export const configFields = {
  REDIS_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379' })
      .default('redis://127.0.0.1:6379'),
  ),
  KINEMA_PREFIX: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[\w{}.-]+$/, { error: 'must be letters, digits, _ - . or a {hash-tag}' })
      .default('kinema'),
  ),
  KINEMA_ROLE: z.preprocess(
    emptyAsUndefined,
    z.enum(['bot', 'worker', 'all'], { error: 'must be bot, worker or all' }).default('all'),
  ),
  WORKER_CONCURRENCY: int(1, 64, 2),
  BACKEND: z.preprocess(
    emptyAsUndefined,
    z.enum(['inference', 'comfyui'], { error: 'must be inference or comfyui' }).default('inference'),
  ),
  INFERENCE_API_KEY: optionalString,
  INFERENCE_API_URL: z.preprocess(
    emptyAsUndefined,
    z.url({ error: 'must be an http(s) URL' }).default('https://api.inference.sh'),
  ),
  INFERENCE_APP: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[\w-]+\/[\w.-]+(@[\w.-]+)?$/, {
        error: 'must be namespace/name, e.g. infsh/wan2-2-i2v-a14b',
      })
      .default('infsh/wan2-2-i2v-a14b'),
  ),
  /** Hosts the inference.sh backend may download results from (besides the API host). */
  INFERENCE_OUTPUT_HOSTS: csv,
  COMFYUI_URL: csv,
  COMFYUI_WORKFLOW: optionalString,
  COMFYUI_FLF_WORKFLOW: optionalString,
  /** Weights file names the graph loads; defaults are the official Wan 2.1 template's. */
  COMFYUI_UNET: optionalString,
  COMFYUI_TEXT_ENCODER: optionalString,
  COMFYUI_VAE: optionalString,
  COMFYUI_CLIP_VISION: optionalString,
  COMFYUI_FLF_UNET: optionalString,
  COMFYUI_NEGATIVE_PROMPT: optionalString,
  /**
   * ComfyUI's `models/loras` folder as the worker sees it (shared with every COMFYUI_URL server):
   * where LoRA files from URLs are written. Unset: `lora_file` is refused on this backend.
   */
  COMFYUI_LORA_DIR: optionalString,
  /** Largest LoRA file a worker downloads, in MiB. */
  LORA_MAX_MB: int(1, 16 * 1024, 1024),
  /** Time for one LoRA download, redirects and body included. */
  LORA_TIMEOUT_SECONDS: int(5, 3600, 300),
  /**
   * TESTS ONLY: hosts (`127.0.0.1`, `localhost`) exempt from the public-address rule for
   * user-supplied URLs, so tests can reach their local fakes. Leave empty in production.
   */
  FETCH_ALLOW_HOSTS: csv,
  DISCORD_TOKEN: optionalString,
  DISCORD_APPLICATION_ID: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^\d{5,25}$/, { error: 'must be the numeric application id' })
      .optional(),
  ),
  DISCORD_GUILD_ID: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^\d{5,25}$/, { error: 'must be a numeric guild id' })
      .optional(),
  ),
  DISCORD_API_URL: optionalUrl,
  /** Optional allowlists (comma-separated ids); empty means everywhere. */
  DISCORD_ALLOWED_GUILDS: csv,
  DISCORD_ALLOWED_CHANNELS: csv,
  DISCORD_ALLOWED_ROLES: csv,
  DISCORD_ALLOW_DMS: flag(false),
  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_API_URL: optionalUrl,
  /** Optional allowlist of Slack channel ids (comma-separated); empty means every channel the app is in. */
  SLACK_ALLOWED_CHANNELS: csv,
  HTTP_PORT: int(0, 65535, 3000),
  /** Public base URL of this service's HTTP port, for links to videos too large to upload. */
  PUBLIC_URL: optionalUrl,
  /** Bearer token `GET /metrics` asks for; unset, the metrics are open to whoever reaches HTTP_PORT. */
  METRICS_TOKEN: optionalString,
  /** Turns the web dashboard on at /admin: the token its login asks for (16 characters or more). */
  ADMIN_TOKEN: z.preprocess(
    emptyAsUndefined,
    z.string().min(16, { error: 'must be at least 16 characters (e.g. openssl rand -hex 24)' }).optional(),
  ),
  LOG_LEVEL: z.preprocess(
    emptyAsUndefined,
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  ),
  /** A system ffmpeg/ffprobe instead of the builds bundled in node_modules (read by media/binaries.ts). */
  FFMPEG_PATH: optionalString,
  FFPROBE_PATH: optionalString,
  /** How long stored input images, posters and last frames (and, in a bucket, results) are kept. */
  STORAGE_TTL_DAYS: int(1, 365, 30),
  /** How long a result video that was never delivered stays in Redis (a delivered one leaves at once). */
  RESULT_TTL_HOURS: int(1, 24 * 365, 24),
  /** `s3://bucket/prefix`: keep files in an S3-compatible bucket instead of Redis. */
  STORAGE_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .trim()
      .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/, {
        error: 'must be s3://bucket/prefix (a lower-case bucket name), or empty to keep files in Redis',
      })
      .optional(),
  ),
  /** The S3 API endpoint of MinIO, R2, …; AWS S3 when unset. */
  STORAGE_ENDPOINT: optionalUrl,
  STORAGE_REGION: z.preprocess(emptyAsUndefined, z.string().trim().default('us-east-1')),
  STORAGE_ACCESS_KEY_ID: optionalString,
  STORAGE_SECRET_ACCESS_KEY: optionalString,
  /** Path-style URLs (endpoint/bucket/key); unset means on whenever STORAGE_ENDPOINT is set. */
  STORAGE_FORCE_PATH_STYLE: z.preprocess(emptyAsUndefined, flag(false).optional()),
  /** Largest input image accepted, in bytes. */
  MAX_INPUT_BYTES: int(1024, 200 * 1024 * 1024, 25 * 1024 * 1024),
  /** Largest result video fetched from a backend, in bytes. */
  MAX_OUTPUT_BYTES: int(1024, 4 * 1024 * 1024 * 1024, 512 * 1024 * 1024),
  /**
   * MiB of videos the bot uploads to Discord at once: deliveries beyond it wait their turn. A larger
   * video still goes, alone. Uploads are streamed from disk; the cap also bounds any read whole.
   */
  UPLOAD_MEMORY_MB: int(1, 4096, 32),
  JOB_ATTEMPTS: int(1, 20, 4),
  SHUTDOWN_GRACE_SECONDS: int(0, 3600, 25),
  /** When a submission's outcome is unknown, submit again anyway (may bill twice). */
  RESUBMIT_AMBIGUOUS: flag(false),
  /** Extensions one chain may have (Extend on a result; 0 turns Extend off). */
  MAX_EXTENSIONS: int(0, 20, 4),
  /** Videos one person may have rendering at once, across every server (held back at start beyond that). */
  MAX_ACTIVE_PER_USER: int(1, 100, 2),
  /** Videos one person may have waiting, beyond those that start as soon as a worker is free. */
  MAX_QUEUED_PER_USER: int(0, 1000, 5),
  /** Prompts and negative prompts against the profanity/sexual-content list and the blocked terms. */
  MODERATION_TEXT: flag(true),
  /** The operator's own blocked terms (comma-separated; `*` at an end matches inside words). */
  MODERATION_BLOCKLIST: csv,
  /** The local NSFW classifier on the input image and on frames of the result. */
  MODERATION_IMAGES: flag(true),
  /** Flag an image when porn + hentai reach this probability (0 flags everything, 1 turns it off). */
  MODERATION_NSFW_THRESHOLD: fraction(0.7),
  /** Flag an image when "sexy" (suggestive) reaches this probability (1 turns it off). */
  MODERATION_SEXY_THRESHOLD: fraction(0.9),
  /** Flagged images are allowed in Discord channels marked age-restricted. */
  MODERATION_ALLOW_IN_NSFW_CHANNELS: flag(false),
  /** Days an audit record of each job is kept. */
  AUDIT_RETENTION_DAYS: int(1, 3650, 30),
  /** Videos per person per rolling 24 hours, across every server and DM (0 = unlimited). */
  QUOTA_PER_USER_PER_DAY: quota,
  /** Videos per server (Discord guild, Slack workspace) per rolling 24 hours (0 = unlimited). */
  QUOTA_PER_SERVER_PER_DAY: quota,
  /** Videos for the whole bot per rolling 24 hours (0 = unlimited). */
  QUOTA_TOTAL_PER_DAY: quota,
  /** Over a quota: `refuse`, or `relax` (queued behind everyone within quota). */
  QUOTA_OVERFLOW: z.preprocess(
    emptyAsUndefined,
    z.enum(['refuse', 'relax'], { error: 'must be refuse or relax' }).default('refuse'),
  ),
  PRICE_TABLE: priceTable,
  PRICE_CURRENCY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .trim()
      .regex(/^[A-Za-z]{3}$/, { error: 'must be a three-letter currency code, e.g. USD' })
      .default('USD'),
  ),
  /** Who may pause the whole bot and act on every server: `discord:<id>`, `slack:<id>`. */
  BOT_OWNER_IDS: ownerIds,
};

export const configSchema = z
  .object(configFields)
  // zod skips refinements once any field failed; this one runs anyway, so every problem is named.
  .superRefine((config, ctx) => checkAcrossSettings(config, ctx), { when: () => true });

export type Config = z.infer<typeof configSchema>;

type Setting = keyof Config;

/**
 * A rule across settings. It runs whenever the settings it `reads` are valid themselves, whatever
 * else is wrong, so one message names type errors and these problems together. Messages never
 * echo a secret.
 */
interface CrossCheck {
  reads: Setting[];
  check: (config: Config, ctx: z.RefinementCtx<Config>) => void;
}

/** `user:password@` in a URL-ish value is a credential: leave it out of messages. */
const withoutCredentials = (value: string) => value.replace(/^(\w+:\/\/)?[^/@\s]*@/, '$1…@');

const crossChecks: CrossCheck[] = [
  {
    reads: ['KINEMA_ROLE', 'BACKEND', 'INFERENCE_API_KEY'],
    check: (config, ctx) => {
      if (config.KINEMA_ROLE !== 'bot' && config.BACKEND === 'inference' && !config.INFERENCE_API_KEY) {
        ctx.addIssue({
          code: 'custom',
          path: ['INFERENCE_API_KEY'],
          message: 'is required when BACKEND=inference (an inference.sh key, starts with inf_)',
        });
      }
    },
  },
  {
    reads: ['KINEMA_ROLE', 'BACKEND', 'COMFYUI_URL'],
    check: (config, ctx) => {
      if (config.KINEMA_ROLE !== 'bot' && config.BACKEND === 'comfyui' && config.COMFYUI_URL.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['COMFYUI_URL'],
          message: 'is required when BACKEND=comfyui (comma-separated http://host:8188 URLs)',
        });
      }
    },
  },
  {
    reads: ['COMFYUI_URL'],
    check: (config, ctx) => {
      for (const url of config.COMFYUI_URL) {
        if (!/^https?:\/\/[^\s]+$/.test(url)) {
          ctx.addIssue({
            code: 'custom',
            path: ['COMFYUI_URL'],
            message: `has "${withoutCredentials(url)}", which is not an http(s) URL`,
          });
        }
      }
    },
  },
  {
    reads: ['DISCORD_TOKEN', 'DISCORD_APPLICATION_ID'],
    check: (config, ctx) => {
      if (config.DISCORD_TOKEN && !config.DISCORD_APPLICATION_ID) {
        ctx.addIssue({
          code: 'custom',
          path: ['DISCORD_APPLICATION_ID'],
          message: 'is required when DISCORD_TOKEN is set (Developer Portal → General Information)',
        });
      }
    },
  },
  {
    reads: ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET'],
    check: (config, ctx) => {
      if (config.SLACK_BOT_TOKEN && !config.SLACK_APP_TOKEN && !config.SLACK_SIGNING_SECRET) {
        ctx.addIssue({
          code: 'custom',
          path: ['SLACK_SIGNING_SECRET'],
          message: 'is required for the HTTP receiver when SLACK_APP_TOKEN (Socket Mode) is not set',
        });
      }
    },
  },
  {
    reads: ['STORAGE_ACCESS_KEY_ID', 'STORAGE_SECRET_ACCESS_KEY'],
    check: (config, ctx) => {
      if (Boolean(config.STORAGE_ACCESS_KEY_ID) !== Boolean(config.STORAGE_SECRET_ACCESS_KEY)) {
        ctx.addIssue({
          code: 'custom',
          path: [config.STORAGE_ACCESS_KEY_ID ? 'STORAGE_SECRET_ACCESS_KEY' : 'STORAGE_ACCESS_KEY_ID'],
          message:
            'is required with the other STORAGE_*_KEY setting (set both, or neither to use the AWS default credentials)',
        });
      }
    },
  },
];

/** Runs every cross check whose inputs parsed; a setting that failed holds its raw input, so it is not read. */
function checkAcrossSettings(config: Config, ctx: z.RefinementCtx<Config>): void {
  const invalid = new Set(ctx.issues.map((issue) => issue.path?.[0]));
  for (const { reads, check } of crossChecks) {
    if (reads.every((setting) => !invalid.has(setting))) check(config, ctx);
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Kinema cannot start; fix these settings (environment or .env):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Parses the environment; never echoes a value, so secrets stay out of the message. */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(configuration)';
    return `${name} ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/** Reads `.env` into process.env (variables already set win), then parses. */
export function loadConfig(envFile = '.env'): Config {
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(process.env);
}

export const SECRET_SETTINGS = [
  'INFERENCE_API_KEY',
  'DISCORD_TOKEN',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'STORAGE_SECRET_ACCESS_KEY',
  'METRICS_TOKEN',
  'ADMIN_TOKEN',
] as const;
