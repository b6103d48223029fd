import { dirname, join } from 'node:path';
import { type ChatVideoOptions, normaliseForChat } from './chat-video.js';
import { lastFrame, posterFrame } from './frames.js';
import type { ProbeResult } from './probe.js';

/** Poster width: enough for a preview, small enough to keep for weeks. */
const POSTER_MAX_WIDTH = 640;

export interface PreparedResult extends ProbeResult {
  /** Stills written next to the video: a small JPEG poster and the last frame at full size (PNG). */
  stills: { poster: string; lastFrame: string };
}

/**
 * What the worker does with a finished video: make it play inline in chat, and keep what later
 * features need (a poster, and the last frame that an extension starts from).
 */
export async function prepareForDelivery(
  inputPath: string,
  outputPath: string,
  options: ChatVideoOptions = {},
): Promise<PreparedResult> {
  const probe = await normaliseForChat(inputPath, outputPath, options);
  const dir = dirname(outputPath);
  const stills = { poster: join(dir, 'poster.jpg'), lastFrame: join(dir, 'last-frame.png') };
  // Independent reads of the finished file: side by side, the job waits for the slower one only.
  await Promise.all([
    posterFrame(outputPath, stills.poster, { ...options, maxWidth: POSTER_MAX_WIDTH }),
    lastFrame(outputPath, stills.lastFrame, options),
  ]);
  return { ...probe, stills };
}
