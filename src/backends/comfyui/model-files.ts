/**
 * The weights a ComfyUI server needs for the Wan 2.1 graphs: their file names, the model folder
 * each must be in (checked by preflight), and the setting that names each one.
 */

export interface ComfyModelFiles {
  /** `models/diffusion_models`. */
  unet: string;
  /** `models/text_encoders` (umt5-xxl). */
  textEncoder: string;
  /** `models/vae`. */
  vae: string;
  /** `models/clip_vision`. */
  clipVision: string;
  /** FLF2V weights for first-and-last-frame jobs; without it the i2v weights are used. */
  flfUnet?: string;
}

/** The official ComfyUI Wan 2.1 image-to-video template's weights (spec §9). */
export const DEFAULT_MODEL_FILES: Readonly<ComfyModelFiles> = {
  unet: 'wan2.1_i2v_480p_14B_fp16.safetensors',
  textEncoder: 'umt5_xxl_fp8_e4m3fn_scaled.safetensors',
  vae: 'wan_2.1_vae.safetensors',
  clipVision: 'clip_vision_h.safetensors',
};

/** Where each configured file must be, for preflight (`GET /models/{folder}`). */
export const MODEL_FOLDERS: Readonly<Record<keyof ComfyModelFiles, string>> = {
  unet: 'diffusion_models',
  textEncoder: 'text_encoders',
  vae: 'vae',
  clipVision: 'clip_vision',
  flfUnet: 'diffusion_models',
};

/** The setting that names each weights file, for messages that tell the operator what to change. */
export const MODEL_SETTINGS: Readonly<Record<keyof ComfyModelFiles, string>> = {
  unet: 'COMFYUI_UNET',
  textEncoder: 'COMFYUI_TEXT_ENCODER',
  vae: 'COMFYUI_VAE',
  clipVision: 'COMFYUI_CLIP_VISION',
  flfUnet: 'COMFYUI_FLF_UNET',
};
