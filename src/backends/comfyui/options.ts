import { hostname } from 'node:os';
import { ConfigurationError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import type { DurationHistory } from '../durations.js';
import type { LoraFilesOptions } from './lora-files.js';
import { type ComfyModelFiles, DEFAULT_MODEL_FILES } from './model-files.js';
import { type ComfyServerConfig, withCredentialsAsHeader } from './server-url.js';

/** The self-hosted backend's settings, with their defaults, as the factory and tests pass them. */

export interface ComfyBackendOptions {
  /** The `COMFYUI_URL` list; an entry may carry extra headers for a reverse proxy. */
  servers: readonly (string | ComfyServerConfig)[];
  /** Extra headers sent to every server (per-server headers win). Never logged. */
  headers?: Record<string, string>;
  /** API-format image-to-video workflow with the `${…}` placeholders; default the shipped template. */
  workflowPath?: string;
  /** API-format first-and-last-frame workflow; default the shipped template. */
  flfWorkflowPath?: string;
  /** Weights file names; defaults are the official ComfyUI Wan 2.1 template's. */
  models?: Partial<ComfyModelFiles>;
  /**
   * LoRA files from URLs (COMFYUI_LORA_DIR, LORA_MAX_MB, LORA_TIMEOUT_SECONDS): where the worker
   * writes them so the servers load them. Left out, a request with `lora_file` is refused.
   */
  loras?: LoraFilesOptions;
  /** Used when the request has no negative prompt. */
  defaultNegativePrompt?: string;
  /** Past run times, for the ETA before sampler steps arrive. */
  durations?: DurationHistory;
  /** One per process, never shared (spec §6.1); default `kinema-<host>-<pid>`. */
  clientId?: string;
  /** How often each server is preflighted again (0 = only on demand). */
  preflightIntervalMs?: number;
  /** History safety-net poll while the socket is up. */
  historyPollMs?: number;
  /** History poll while the socket is down, or the server does not answer. */
  historyPollDownMs?: number;
  /** Queue-position refresh while the prompt waits. */
  queuePollMs?: number;
  /** Poll after the socket says the prompt ended, until history confirms it. */
  confirmPollMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Per HTTP call. */
  requestTimeoutMs?: number;
  uploadTimeoutMs?: number;
  /** How long `follow` waits for a server that stopped answering before giving up. */
  serverDownTimeoutMs?: number;
  /** How often a lost prompt (server restart) is resubmitted under the same id. */
  maxResubmits?: number;
  /**
   * No event for a prompt for this long makes the follower ask queue and history where it is: the
   * socket may be half-open, or the prompt's events go to another process. The answer decides: a
   * finished prompt is finished at once, a running one is followed on. 0 turns it off.
   */
  silentCheckMs?: number;
  /**
   * While a prompt runs, a socket that received nothing for this long is reconnected: after a GPU
   * host crash it can look connected (half-open) and never deliver another event. 0 turns it off.
   */
  socketIdleMs?: number;
  /** How long `cancel` waits for the server to confirm. */
  cancelTimeoutMs?: number;
  maxOutputBytes?: number;
  downloadTimeoutMs?: number;
  /** Added to the sampler-paced ETA for decoding and encoding. */
  decodeAllowanceMs?: number;
  /** For pool-level messages; jobs log through their own logger. */
  log?: Logger;
}

export const COMFY_DEFAULTS = {
  preflightIntervalMs: 60_000,
  historyPollMs: 30_000,
  historyPollDownMs: 5_000,
  queuePollMs: 3_000,
  confirmPollMs: 250,
  reconnectMinMs: 500,
  reconnectMaxMs: 10_000,
  requestTimeoutMs: 30_000,
  uploadTimeoutMs: 120_000,
  serverDownTimeoutMs: 15 * 60_000,
  maxResubmits: 3,
  silentCheckMs: 12_000,
  socketIdleMs: 120_000,
  cancelTimeoutMs: 15_000,
  maxOutputBytes: 512 * 1024 * 1024,
  downloadTimeoutMs: 10 * 60_000,
  decodeAllowanceMs: 15_000,
} as const;

/** Every timing and limit, each given or its default. */
export type ComfySettings = Readonly<Record<keyof typeof COMFY_DEFAULTS, number>>;

/** The shared negative prompt of the Wan 2.2 apps (wan-apps.md §1); Wan's own default is Chinese. */
export const DEFAULT_NEGATIVE_PROMPT =
  'oversaturated, overexposed, static, blurry details, subtitles, stylized, artwork, painting, still image, ' +
  'overall gray, worst quality, low quality, JPEG artifacts, ugly, deformed, extra fingers, poorly drawn hands, ' +
  'poorly drawn face, malformed, disfigured, deformed limbs, fused fingers, static motionless frame, ' +
  'cluttered background, three legs, crowded background, walking backwards';

export const defaultClientId = () => `kinema-${hostname()}-${process.pid}`.replace(/[^\w.-]+/g, '_');

export function resolveSettings(options: ComfyBackendOptions): ComfySettings {
  const settings: Record<keyof typeof COMFY_DEFAULTS, number> = { ...COMFY_DEFAULTS };
  for (const key of Object.keys(COMFY_DEFAULTS) as (keyof typeof COMFY_DEFAULTS)[]) {
    const value = options[key];
    if (value !== undefined) {
      if (!Number.isFinite(value) || value < 0)
        throw new ConfigurationError(`ComfyUI option ${key} must be >= 0`);
      settings[key] = value;
    }
  }
  return settings;
}

export function resolveModelFiles(options: ComfyBackendOptions): ComfyModelFiles {
  const given = Object.entries(options.models ?? {}).filter(([, value]) => value !== undefined);
  return { ...DEFAULT_MODEL_FILES, ...(Object.fromEntries(given) as Partial<ComfyModelFiles>) };
}

/** Each server's URL without credentials and the headers it gets (shared ones, then its own). */
export function resolveServers(options: ComfyBackendOptions): ComfyServerConfig[] {
  return options.servers.map((entry) => {
    const config = typeof entry === 'string' ? { url: entry } : entry;
    return withCredentialsAsHeader({
      url: config.url,
      headers: { ...(options.headers ?? {}), ...(config.headers ?? {}) },
    });
  });
}
