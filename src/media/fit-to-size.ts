import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  even,
  ffmpeg,
  inputAndOutput,
  MP4_FASTSTART,
  removeQuietly,
  type VideoToolOptions,
} from './ffmpeg.js';
import { type ProbeResult, probeVideo } from './probe.js';

export interface FitToSizeOptions extends VideoToolOptions {
  /** Fraction of `maxBytes` aimed at, leaving room for the encoder's error and the container. Default 0.92. */
  headroom?: number;
  /** Below this video bitrate (bits/s) the result is not worth posting; give up instead. Default 48 000. */
  minVideoBitrate?: number;
}

/**
 * Makes the video fit in `maxBytes` (an upload limit). A file that already fits is copied as is.
 * Otherwise it is re-encoded (two-pass H.264 at a bitrate computed from the duration), first at the
 * same size, then downscaled with a corrected bitrate. Returns undefined, leaving no output, when it
 * cannot fit at a bitrate worth posting; the caller then links to the file instead.
 */
export async function fitToSize(
  inputPath: string,
  outputPath: string,
  maxBytes: number,
  options: FitToSizeOptions = {},
): Promise<ProbeResult | undefined> {
  const [input, output] = inputAndOutput(inputPath, outputPath);
  const headroom = options.headroom ?? 0.92;
  const minVideoBitrate = options.minVideoBitrate ?? 48_000;
  const source = await probeVideo(input, options);
  if (source.bytes <= maxBytes) {
    await copyFile(input, output);
    return { ...source, bytes: (await stat(output)).size };
  }
  if (source.durationSeconds <= 0) return undefined;

  const targetBits = maxBytes * headroom * 8;
  // The mp4 container and x264 headers take a few KB whatever the bitrate.
  const overheadBits = 16 * 1024 * 8;
  const totalBitrate = (targetBits - overheadBits) / source.durationSeconds;
  const audioBitrate = source.hasAudio && totalBitrate >= 400_000 ? 64_000 : 0;
  let videoBitrate = Math.floor(totalBitrate - audioBitrate);
  if (videoBitrate < minVideoBitrate) return undefined;

  const work = await mkdtemp(join(tmpdir(), 'kinema-fit-'));
  try {
    const attempts = [1, 0.7];
    for (const [index, scale] of attempts.entries()) {
      const width = even(source.width * scale);
      const height = even(source.height * scale);
      await encodeTwoPass(input, output, join(work, `pass${index}`), {
        videoBitrate,
        audioBitrate,
        width,
        height,
        options,
      });
      const result = await probeVideo(output, options);
      if (result.bytes <= maxBytes) return result;
      // Aim lower by the overshoot on the next try.
      videoBitrate = Math.floor(videoBitrate * Math.min(0.9, ((maxBytes * headroom) / result.bytes) * 0.95));
      if (videoBitrate < minVideoBitrate) break;
    }
    await removeQuietly(output);
    return undefined;
  } catch (error) {
    await removeQuietly(output);
    throw error;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function encodeTwoPass(
  input: string,
  output: string,
  passlog: string,
  settings: {
    videoBitrate: number;
    audioBitrate: number;
    width: number;
    height: number;
    options: VideoToolOptions;
  },
): Promise<void> {
  const { videoBitrate, audioBitrate, width, height, options } = settings;
  const video = [
    '-map',
    '0:v:0',
    '-vf',
    `scale=${width}:${height}`,
    '-c:v',
    'libx264',
    '-preset',
    'medium',
    '-b:v',
    String(videoBitrate),
    '-maxrate',
    String(Math.floor(videoBitrate * 1.5)),
    '-bufsize',
    String(Math.floor(videoBitrate * 2)),
    '-pix_fmt',
    'yuv420p',
    '-passlogfile',
    passlog,
  ];
  await ffmpeg(['-i', input, ...video, '-pass', '1', '-an', '-f', 'null', '-'], 'analyse the video', options);
  const audio = audioBitrate > 0 ? ['-map', '0:a:0?', '-c:a', 'aac', '-b:a', String(audioBitrate)] : ['-an'];
  await ffmpeg(
    ['-i', input, ...video, '-pass', '2', ...audio, ...MP4_FASTSTART, output],
    'shrink the video',
    options,
  );
}
