import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { DurationHistory } from '../durations.js';
import { ComfyBackend } from './backend.js';
import type { ComfyModelFiles } from './model-files.js';
import type { ComfyBackendOptions } from './options.js';

/**
 * Builds the self-hosted backend from the configuration and starts it (sockets and the start-up
 * preflight, whose findings are logged). Weights file names fall back to the official template's.
 */
export function createComfyBackend(
  config: Config,
  deps: { durations: DurationHistory; log: Logger },
  overrides: Partial<ComfyBackendOptions> = {},
): ComfyBackend {
  const models: Partial<ComfyModelFiles> = {};
  if (config.COMFYUI_UNET) models.unet = config.COMFYUI_UNET;
  if (config.COMFYUI_TEXT_ENCODER) models.textEncoder = config.COMFYUI_TEXT_ENCODER;
  if (config.COMFYUI_VAE) models.vae = config.COMFYUI_VAE;
  if (config.COMFYUI_CLIP_VISION) models.clipVision = config.COMFYUI_CLIP_VISION;
  if (config.COMFYUI_FLF_UNET) models.flfUnet = config.COMFYUI_FLF_UNET;
  const negative = config.COMFYUI_NEGATIVE_PROMPT;
  const backend = new ComfyBackend({
    servers: config.COMFYUI_URL,
    ...(config.COMFYUI_WORKFLOW ? { workflowPath: config.COMFYUI_WORKFLOW } : {}),
    ...(config.COMFYUI_FLF_WORKFLOW ? { flfWorkflowPath: config.COMFYUI_FLF_WORKFLOW } : {}),
    models,
    ...(negative ? { defaultNegativePrompt: negative } : {}),
    durations: deps.durations,
    maxOutputBytes: config.MAX_OUTPUT_BYTES,
    ...(config.COMFYUI_LORA_DIR
      ? {
          loras: {
            dir: config.COMFYUI_LORA_DIR,
            maxBytes: config.LORA_MAX_MB * 1024 * 1024,
            timeoutMs: config.LORA_TIMEOUT_SECONDS * 1000,
            policy: { allowHosts: config.FETCH_ALLOW_HOSTS },
          },
        }
      : {}),
    log: deps.log.child({ backend: 'comfyui' }),
    ...overrides,
  });
  backend.start();
  return backend;
}
