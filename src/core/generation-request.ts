import { z } from 'zod';
import { type GenerationSettings, MAX_SEED, type ModelId, settingSchema, settingsShape } from './settings.js';

/**
 * From validated settings to the request a job carries: a concrete model and seed (so every result
 * can be reproduced) and the input images as stored at enqueue.
 */

/** A stored copy of an input image, made at enqueue; chat CDN URLs expire, this does not. */
export const storedImageSchema = z.object({
  key: z.string().min(1),
  contentType: z.enum(['image/png', 'image/jpeg', 'image/webp']),
  bytes: z.number().int().positive(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  filename: z.string().min(1),
});
export type StoredImage = z.infer<typeof storedImageSchema>;

/** What a job carries: the settings with a concrete seed and model, plus the stored images. */
export interface GenerationRequest extends GenerationSettings {
  model: ModelId;
  seed: number;
  input_image: StoredImage;
  end_frame?: StoredImage;
}

export const generationRequestSchema: z.ZodType<GenerationRequest> = z
  .object({
    ...settingsShape,
    model: settingSchema('model'),
    seed: z.number().int().min(0).max(MAX_SEED),
    input_image: storedImageSchema,
    end_frame: storedImageSchema.optional(),
  })
  .transform((value) => value as unknown as GenerationRequest);

/**
 * The seeds of a group of `count` variants: the given seed and the ones after it (wrapping past
 * MAX_SEED), or distinct random ones when none was given.
 */
export function variantSeeds(
  seed: number | undefined,
  count: number,
  random: () => number = Math.random,
): number[] {
  if (seed !== undefined && seed >= 0) {
    return Array.from({ length: count }, (_, i) => (seed + i) % (MAX_SEED + 1));
  }
  const seeds = new Set<number>();
  while (seeds.size < count) seeds.add(resolveSeed(undefined, random));
  return [...seeds];
}

/** Seed -1 (or none) means random: draw it now so the result can always be reproduced. */
export function resolveSeed(seed: number | undefined, random: () => number = Math.random): number {
  if (seed !== undefined && seed >= 0) return seed;
  return Math.floor(random() * (MAX_SEED + 1));
}

/** Turns validated settings and stored images into the request a job carries. */
export function finaliseRequest(
  settings: GenerationSettings,
  images: { input_image: StoredImage; end_frame?: StoredImage },
  defaultModel: ModelId,
  random: () => number = Math.random,
): GenerationRequest {
  // How many videos to make is the command's business, not one job's: it never reaches a backend.
  // `loop: false` is the default: kept only when on, so a remix can turn a parent's loop off.
  const { variants: _variants, loop, ...one } = settings;
  return {
    ...one,
    ...(loop ? { loop: true } : {}),
    model: settings.model ?? defaultModel,
    seed: resolveSeed(settings.seed, random),
    input_image: images.input_image,
    ...(images.end_frame ? { end_frame: images.end_frame } : {}),
  };
}

/**
 * The request as a backend renders it: with `loop`, the end frame is the start image (the same
 * stored file), so every backend that takes an end frame makes a clip that ends where it began.
 */
export function renderedRequest(request: GenerationRequest): GenerationRequest {
  return request.loop && !request.end_frame ? { ...request, end_frame: request.input_image } : request;
}
