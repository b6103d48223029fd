import { vi } from 'vitest';
import { finaliseRequest, type GenerationSettings, type StoredImage } from '../../src/core/request.js';
import type { CancelResult } from '../../src/queue/cancel.js';
import type { JobRecord } from '../../src/queue/records.js';
import type { Origin } from '../../src/service/checks.js';
import type { Actor, RerunInput, SubmitInput, Submitted } from '../../src/service/generation-service.js';
import type { ImageSource } from '../../src/service/input-images.js';
import type { Refusal } from '../../src/service/refusals.js';

/**
 * A stand-in for the GenerationService, the platforms' only door, for listener and command unit
 * tests: every method is a `vi.fn` that answers like an empty queue would, so a test says only what
 * differs (a refusal, a duplicate) and asserts on the calls.
 */

export const STORED_IMAGE: StoredImage = {
  key: 'inputs/stub',
  contentType: 'image/png',
  bytes: 1024,
  width: 64,
  height: 64,
  filename: 'cat.png',
};

export const STUB_SEED = 4242;

export function submittedFor(jobId: string, settings: GenerationSettings): Submitted {
  return {
    jobId,
    duplicate: false,
    request: finaliseRequest({ ...settings, seed: STUB_SEED }, { input_image: STORED_IMAGE }, 'wan2.1'),
  };
}

export function stubService() {
  return {
    refusal: vi.fn(async (_origin: Origin): Promise<Refusal | undefined> => undefined),
    declaredImageProblem: vi.fn((_source: ImageSource, _label?: string): string | undefined => undefined),
    submit: vi.fn(
      async (input: SubmitInput): Promise<Submitted> => submittedFor(input.jobId, input.settings),
    ),
    rerun: vi.fn(
      async (_parentJobId: string, input: RerunInput): Promise<Submitted> =>
        submittedFor(input.jobId, { prompt: 'the parent prompt' }),
    ),
    record: vi.fn(async (_jobId: string): Promise<JobRecord | undefined> => undefined),
    cancel: vi.fn(async (_jobId: string, _actor: Actor): Promise<CancelResult> => 'removed'),
    position: vi.fn(async (_jobId: string) => ({ position: 1, of: 1 })),
    withdraw: vi.fn(async (_jobId: string) => undefined),
  };
}

export type StubService = ReturnType<typeof stubService>;

/** The bot-side feed: only whether a posted status is followed. */
export function stubFeed() {
  return { track: vi.fn(async () => undefined), untrack: vi.fn(async () => undefined) };
}
