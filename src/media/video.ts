import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, open, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ffmpegPath, ffprobePath } from './binaries.js';

/**
 * Video post-processing with ffmpeg/ffprobe, run as child processes (no shell) on files: nothing is
 * held whole in memory. Chat clients play an mp4 inline when it is H.264 in yuv420p, and start it
 * quickly when the `moov` atom comes before `mdat` (platform notes D6).
 */

export interface ProbeResult {
  /** ffprobe codec name of the first video stream: `h264`, `hevc`, `mpeg4`, `av1`… */
  codec: string;
  /** e.g. `yuv420p`; empty when ffprobe does not report one. */
  pixFmt: string;
  width: number;
  height: number;
  /** 0 when the container does not say. */
  durationSeconds: number;
  /** File size. */
  bytes: number;
  /** True when the top-level `moov` atom comes before `mdat` (playback can start before the download ends). */
  fastStart: boolean;
  hasAudio: boolean;
}

export interface VideoToolOptions {
  /** Kills ffmpeg/ffprobe after this long. Default 10 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface FitToSizeOptions extends VideoToolOptions {
  /** Fraction of `maxBytes` aimed at, leaving room for the encoder's error and the container. Default 0.92. */
  headroom?: number;
  /** Below this video bitrate (bits/s) the result is not worth posting; give up instead. Default 48 000. */
  minVideoBitrate?: number;
}

/** ffmpeg or ffprobe is not installed (or not on PATH). */
export class FfmpegMissingError extends Error {
  constructor(readonly binary: string) {
    super(
      `${binary} did not run; reinstall with npm ci (the bundled ffmpeg and ffprobe come with it), or set FFMPEG_PATH and FFPROBE_PATH to a system build (Debian/Ubuntu: apt-get install ffmpeg)`,
    );
    this.name = 'FfmpegMissingError';
  }
}

/** The file is not a video ffprobe can read, or has no video stream. */
export class InvalidVideoError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidVideoError';
  }
}

/** ffmpeg failed; `stderr` holds the tail of its output for the log. */
export class FfmpegError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'FfmpegError';
  }
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const STDERR_TAIL = 8 * 1024;
const STDOUT_LIMIT = 1024 * 1024;

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(binary: string, args: readonly string[], options: VideoToolOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason ?? new Error('aborted'));
      return;
    }
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    let stdout = '';
    let stderr = '';
    let settled = false;
    let killedFor: Error | undefined;

    const kill = (reason: Error) => {
      killedFor ??= reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => kill(new Error(`${binary} did not finish within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`)),
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    const onAbort = () =>
      kill(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      fn();
    };

    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (stdout.length < STDOUT_LIMIT) stdout += chunk;
    });
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      finish(() => reject(error.code === 'ENOENT' ? new FfmpegMissingError(binary) : error));
    });
    child.on('close', (code, signal) => {
      finish(() => {
        if (killedFor) reject(killedFor);
        else resolvePromise({ code, signal, stdout, stderr });
      });
    });
  });
}

async function ffmpeg(args: readonly string[], what: string, options: VideoToolOptions = {}): Promise<void> {
  const result = await run(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args], options);
  if (result.code !== 0) {
    const detail = result.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new FfmpegError(`ffmpeg failed to ${what}${detail ? `: ${detail}` : ''}`, result.stderr);
  }
}

/** Throws FfmpegMissingError unless both ffmpeg and ffprobe run. Call at startup. */
export async function checkFfmpeg(): Promise<void> {
  for (const binary of [ffmpegPath(), ffprobePath()]) {
    const result = await run(binary, ['-version'], { timeoutMs: 30_000 });
    if (result.code !== 0) throw new FfmpegMissingError(binary);
  }
}

/**
 * True when the file's top-level `moov` atom precedes `mdat`. Reads only atom headers, walking the
 * file by their sizes.
 */
export async function hasFastStart(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const header = Buffer.alloc(16);
    let offset = 0;
    for (let atoms = 0; atoms < 10_000 && offset + 8 <= size; atoms++) {
      const { bytesRead } = await handle.read(header, 0, 16, offset);
      if (bytesRead < 8) return false;
      let atomSize = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (type === 'moov') return true;
      if (type === 'mdat') return false;
      if (atomSize === 1) {
        if (bytesRead < 16) return false;
        atomSize = Number(header.readBigUInt64BE(8));
      } else if (atomSize === 0) {
        return false; // the atom runs to the end of the file
      }
      if (atomSize < 8) return false;
      offset += atomSize;
    }
    return false;
  } finally {
    await handle.close();
  }
}

interface FfprobeOutput {
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    pix_fmt?: string;
    width?: number;
    height?: number;
    duration?: string;
  }>;
  format?: { duration?: string; format_name?: string };
}

/** Codec, pixel format, size, duration, file size and moov position of a video file. */
export async function probeVideo(filePath: string, options: VideoToolOptions = {}): Promise<ProbeResult> {
  // Absolute, so a name starting with "-" is never read as an option.
  const path = resolve(filePath);
  const { size } = await stat(path);
  const result = await run(
    ffprobePath(),
    [
      '-v',
      'error',
      '-show_entries',
      'stream=codec_type,codec_name,pix_fmt,width,height,duration:format=duration,format_name',
      '-of',
      'json',
      path,
    ],
    options,
  );
  if (result.code !== 0) {
    throw new InvalidVideoError(
      `the file is not a video ffprobe can read (${result.stderr.trim().slice(-300)})`,
    );
  }
  let parsed: FfprobeOutput;
  try {
    parsed = JSON.parse(result.stdout) as FfprobeOutput;
  } catch (error) {
    throw new InvalidVideoError('ffprobe returned output that is not JSON', { cause: error });
  }
  const formatName = parsed.format?.format_name ?? '';
  if (/(^|,)(image2|[a-z0-9]+_pipe)(,|$)/.test(formatName)) {
    throw new InvalidVideoError(`the file is a still image (${formatName}), not a video`);
  }
  const streams = parsed.streams ?? [];
  const video = streams.find((stream) => stream.codec_type === 'video' && stream.width && stream.height);
  if (!video) throw new InvalidVideoError('the file has no video stream');
  const durations = [parsed.format?.duration, video.duration]
    .map(Number)
    .filter((d) => Number.isFinite(d) && d > 0);
  return {
    codec: video.codec_name ?? '',
    pixFmt: video.pix_fmt ?? '',
    width: video.width ?? 0,
    height: video.height ?? 0,
    durationSeconds: durations[0] ?? 0,
    bytes: size,
    fastStart: await hasFastStart(path),
    hasAudio: streams.some((stream) => stream.codec_type === 'audio'),
  };
}

/** Whether a probed file already plays inline in chat clients without re-encoding. */
export const isChatPlayable = (probe: Pick<ProbeResult, 'codec' | 'pixFmt'>): boolean =>
  probe.codec === 'h264' && probe.pixFmt === 'yuv420p';

function assertDistinct(input: string, output: string): void {
  if (resolve(input) === resolve(output)) throw new Error('input and output must be different files');
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** Even dimensions for yuv420p, never below 2. */
const even = (value: number) => Math.max(2, Math.round(value / 2) * 2);

/**
 * Makes a video play inline in chat: H.264 yuv420p → remux with `+faststart` (no quality loss);
 * anything else → transcode to H.264 yuv420p (audio, if any, as AAC). Returns the output's probe.
 */
export async function normaliseForChat(
  inputPath: string,
  outputPath: string,
  options: VideoToolOptions = {},
): Promise<ProbeResult> {
  const input = resolve(inputPath);
  const output = resolve(outputPath);
  assertDistinct(input, output);
  const source = await probeVideo(input, options);
  if (isChatPlayable(source) && source.fastStart) {
    // Already what chat clients play inline: keep the backend's file byte for byte.
    await copyFile(input, output);
    return { ...source };
  }
  const maps = ['-map', '0:v:0', '-map', '0:a:0?'];
  const tail = ['-movflags', '+faststart', '-f', 'mp4', output];
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
        [
          '-i',
          input,
          ...maps,
          '-vf',
          'scale=trunc(iw/2)*2:trunc(ih/2)*2',
          '-c:v',
          'libx264',
          '-preset',
          'medium',
          '-crf',
          '18',
          '-pix_fmt',
          'yuv420p',
          ...aac,
          ...tail,
        ],
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
  const input = resolve(inputPath);
  const output = resolve(outputPath);
  assertDistinct(input, output);
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
    ['-i', input, ...video, '-pass', '2', ...audio, '-movflags', '+faststart', '-f', 'mp4', output],
    'shrink the video',
    options,
  );
}

/**
 * Writes a JPEG still of the video: the first frame by default, or the middle one. Useful as a
 * poster when the video is posted as a link.
 */
export async function posterFrame(
  inputPath: string,
  outputPath: string,
  options: VideoToolOptions & { at?: 'first' | 'middle' } = {},
): Promise<void> {
  const input = resolve(inputPath);
  const outputJpeg = resolve(outputPath);
  assertDistinct(input, outputJpeg);
  let seek: string[] = [];
  if (options.at === 'middle') {
    const probe = await probeVideo(input, options);
    if (probe.durationSeconds > 0) seek = ['-ss', (probe.durationSeconds / 2).toFixed(3)];
  }
  try {
    await ffmpeg(
      [
        ...seek,
        '-i',
        input,
        '-map',
        '0:v:0',
        '-frames:v',
        '1',
        '-vf',
        'format=yuvj420p',
        '-c:v',
        'mjpeg',
        '-q:v',
        '3',
        '-f',
        'image2',
        '-update',
        '1',
        outputJpeg,
      ],
      'extract a poster frame',
      options,
    );
    const { size } = await stat(outputJpeg);
    if (size === 0) throw new InvalidVideoError('no frame could be extracted from the video');
  } catch (error) {
    await removeQuietly(outputJpeg);
    throw error;
  }
}
