import { dirname, join } from 'node:path';
import { type ChatVideoOptions, normaliseForChat } from './chat-video.js';
import type { VideoToolOptions } from './ffmpeg.js';
import { lastFrame, posterFrame } from './frames.js';
import type { ProbeResult } from './probe.js';

/** Poster width: enough for a preview, small enough to keep for weeks. */
const POSTER_MAX_WIDTH = 640;

/** Stills of a prepared video, written next to it: a small JPEG poster and the last frame at full size (PNG). */
export interface ResultStills {
  poster: string;
  lastFrame: string;
}

export interface PreparedResult extends ProbeResult {
  /**
   * Makes the stills from the prepared file. Apart, because nothing the chat shows needs them: the
   * worker posts the video first and makes them after (each is an ffmpeg run, 30–100 ms to start).
   */
  makeStills(): Promise<ResultStills>;
}

/**
 * What the worker does with a finished video: make it play inline in chat (a file that already does
 * is kept byte for byte), and, through `makeStills`, keep what later features need (a poster, and
 * the last frame that an extension starts from).
 */
export async function prepareForDelivery(
  inputPath: string,
  outputPath: string,
  options: ChatVideoOptions = {},
): Promise<PreparedResult> {
  const probe = await normaliseForChat(inputPath, outputPath, options);
  return { ...probe, makeStills: () => makeStills(outputPath, { ...options, background: true }) };
}

/** The poster and the last frame of `videoPath`, beside it; side by side, so the slower one sets the time. */
export async function makeStills(videoPath: string, options: VideoToolOptions = {}): Promise<ResultStills> {
  const dir = dirname(videoPath);
  const stills = { poster: join(dir, 'poster.jpg'), lastFrame: join(dir, 'last-frame.png') };
  await Promise.all([
    posterFrame(videoPath, stills.poster, { ...options, maxWidth: POSTER_MAX_WIDTH }),
    lastFrame(videoPath, stills.lastFrame, options),
  ]);
  return stills;
}
