import type { ModelId } from './settings.js';

/**
 * What the configured backend can do with a model beyond its settings table: take an end frame,
 * apply a LoRA. The wiring builds it from the backend's own data (backends/index.ts); the service
 * refuses what it cannot do before anything is queued.
 */
export interface BackendCapabilities {
  /** The backend as people know it: "inference.sh", "the self-hosted ComfyUI backend". */
  readonly backend: string;
  endFrame(model: ModelId): boolean;
  lora(model: ModelId): boolean;
}

/** When nothing is wired: end frames as every shipped model takes them, LoRAs nowhere. */
export const DEFAULT_CAPABILITIES: BackendCapabilities = {
  backend: 'this backend',
  endFrame: () => true,
  lora: () => false,
};
