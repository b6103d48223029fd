import { copyFile } from 'node:fs/promises';
import { dropLastFrame } from './edit.js';
import {
  FfmpegError,
  ffmpeg,
  H264_FOR_CHAT,
  inputAndOutput,
  MP4_FASTSTART,
  removeQuietly,
  type VideoToolOptions,
} from './ffmpeg.js';
import { isChatPlayable, type ProbeResult, probeVideo } from './probe.js';

export interface ChatVideoOptions extends VideoToolOptions {
  /**
   * The clip was rendered to loop (its end frame was its start image): its last frame, a repeat
   * of the first, is dropped, so it plays round without a stutter at the seam.
   */
  loop?: boolean;
}

/**
 * Makes a video play inline in chat: H.264 yuv420p → remux with `+faststart` (no quality loss);
 * anything else → transcode to H.264 yuv420p (audio, if any, as AAC). Returns the output's probe.
 * A loop is re-encoded once, without its last frame (edit.ts).
 */
export async function normaliseForChat(
  inputPath: string,
  outputPath: string,
  { loop, ...options }: ChatVideoOptions = {},
): Promise<ProbeResult> {
  if (loop) return dropLastFrame(inputPath, outputPath, options);
  const [input, output] = inputAndOutput(inputPath, outputPath);
  const source = await probeVideo(input, options);
  if (isChatPlayable(source) && source.fastStart) {
    // Already what chat clients play inline: keep the backend's file byte for byte.
    await copyFile(input, output);
    return { ...source };
  }
  const maps = ['-map', '0:v:0', '-map', '0:a:0?'];
  const tail = [...MP4_FASTSTART, output];
  const aac = ['-c:a', 'aac', '-b:a', '128k'];
  try {
    if (isChatPlayable(source)) {
      try {
        await ffmpeg(['-i', input, ...maps, '-c', 'copy', ...tail], 'remux the video', options);
      } catch (error) {
        // An audio codec mp4 cannot hold (e.g. PCM from a .mov): copy the video, convert the audio.
        if (!(error instanceof FfmpegError) || !source.hasAudio) throw error;
        await ffmpeg(['-i', input, ...maps, '-c:v', 'copy', ...aac, ...tail], 'remux the video', options);
      }
    } else {
      await ffmpeg(
        ['-i', input, ...maps, '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2', ...H264_FOR_CHAT, ...aac, ...tail],
        'transcode the video',
        options,
      );
    }
    return await probeVideo(output, options);
  } catch (error) {
    await removeQuietly(output);
    throw error;
  }
}
