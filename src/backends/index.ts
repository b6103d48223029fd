import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { BackendCapabilities } from '../core/capabilities.js';
import { MODEL_PROFILES, takesSetting } from '../core/models.js';
import type { ModelId } from '../core/request.js';
import type { Logger } from '../log.js';
import type { ModelAvailabilitySink, VideoBackend } from './backend.js';
import { DurationHistory } from './durations.js';
import { INFERENCE_APPS, modelForApp } from './inference-sh/apps.js';
import { InferenceBackend } from './inference-sh/backend.js';

export interface BackendDeps {
  redis: Redis;
  log: Logger;
  /** Where a backend reports models it finds gone or back (a worker passes the Redis record). */
  availability?: ModelAvailabilitySink;
}

/** Builds the configured backend. Only worker processes call this; the bot never talks to a backend. */
export async function createBackend(config: Config, deps: BackendDeps): Promise<VideoBackend> {
  const durations = new DurationHistory(deps.redis, config.KINEMA_PREFIX);
  if (config.BACKEND === 'comfyui') {
    const { createComfyBackend } = await import('./comfyui/factory.js');
    return createComfyBackend(config, { durations, log: deps.log });
  }
  return new InferenceBackend({
    apiUrl: config.INFERENCE_API_URL,
    apiKey: config.INFERENCE_API_KEY ?? '',
    app: config.INFERENCE_APP,
    durations,
    outputHosts: config.INFERENCE_OUTPUT_HOSTS,
    maxOutputBytes: config.MAX_OUTPUT_BYTES,
    log: deps.log,
    availability: deps.availability,
  });
}

/**
 * The model a request gets when the user picks none: the one behind INFERENCE_APP (Wan 2.2 A14B when
 * that app is none of Kinema's). The ComfyUI graphs run Wan 2.1 only.
 */
export function defaultModel(config: Config): ModelId {
  if (config.BACKEND === 'comfyui') return 'wan2.1';
  return modelForApp(config.INFERENCE_APP)?.id ?? 'wan2.2-a14b';
}

/**
 * What the configured backend can do (core/capabilities.ts), for the service's refusals. ComfyUI:
 * every model runs the Wan 2.1 graphs, which take an end frame (the first-last-frame graph) and a
 * LoRA when COMFYUI_LORA_DIR is set (set it on the bot too: any value there turns LoRAs on).
 * inference.sh: an end frame where the app has an end-image field, a LoRA where the app's published
 * schema has a LoRA field (`lora_file`, Wan 2.1 only; wan-apps.md §2).
 */
export function backendCapabilities(config: Config): BackendCapabilities {
  if (config.BACKEND === 'comfyui') {
    return {
      backend: 'the self-hosted ComfyUI backend',
      endFrame: () => true,
      lora: () => Boolean(config.COMFYUI_LORA_DIR),
    };
  }
  return {
    backend: 'inference.sh',
    endFrame: (model) => Boolean(INFERENCE_APPS[model].endImageField),
    lora: (model) => takesSetting(MODEL_PROFILES[model], 'lora_file'),
  };
}
