import { spawn } from 'node:child_process';
import { unlink } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { resolve } from 'node:path';
import { ffmpegPath, ffprobePath } from './binaries.js';

/**
 * Runs ffmpeg and ffprobe as child processes (no shell, so no quoting of file names), with a
 * timeout and an abort signal, keeping only the tail of their stderr for error messages.
 */

export interface VideoToolOptions {
  /** Kills ffmpeg/ffprobe after this long. Default 10 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Work nobody is waiting for (a posted video's stills): run at a low CPU priority (nice 10). */
  background?: boolean;
}

/** Nice value of background runs: they take what CPU the bot and the worker leave. */
const BACKGROUND_NICE = 10;

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

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions extends VideoToolOptions {
  /** Receives stdout as bytes (e.g. raw frames) instead of collecting it as text. */
  onStdout?: (chunk: Buffer) => void;
}

export function run(binary: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason ?? new Error('aborted'));
      return;
    }
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    if (options.background && child.pid) {
      try {
        setPriority(child.pid, BACKGROUND_NICE);
      } catch {
        // Not allowed here, or already gone: it runs at the normal priority.
      }
    }
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

    const { onStdout } = options;
    if (onStdout) {
      child.stdout.on('data', (chunk: Buffer) => onStdout(chunk));
    } else {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        if (stdout.length < STDOUT_LIMIT) stdout += chunk;
      });
    }
    child.stderr.setEncoding('utf8');
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

/** Runs ffmpeg quietly; a failure throws FfmpegError saying what it was trying `what` to do. */
export async function ffmpeg(args: readonly string[], what: string, options: RunOptions = {}): Promise<void> {
  const result = await run(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args], options);
  if (result.code !== 0) {
    const detail = result.stderr.trim().split('\n').slice(-3).join(' | ');
    throw new FfmpegError(`ffmpeg failed to ${what}${detail ? `: ${detail}` : ''}`, result.stderr);
  }
}

/** Runs ffprobe with JSON output on one file and parses it; unreadable files throw InvalidVideoError. */
export async function ffprobeJson<T>(
  path: string,
  args: readonly string[],
  options: VideoToolOptions = {},
): Promise<T> {
  const result = await run(ffprobePath(), ['-v', 'error', ...args, '-of', 'json', path], options);
  if (result.code !== 0) {
    throw new InvalidVideoError(
      `the file is not a video ffprobe can read (${result.stderr.trim().slice(-300)})`,
    );
  }
  try {
    return JSON.parse(result.stdout) as T;
  } catch (error) {
    throw new InvalidVideoError('ffprobe returned output that is not JSON', { cause: error });
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
 * Both paths made absolute, so a name starting with "-" is never read as an option, and checked to
 * differ (ffmpeg would truncate its own input).
 */
export function inputAndOutput(inputPath: string, outputPath: string): [string, string] {
  const input = resolve(inputPath);
  const output = resolve(outputPath);
  if (input === output) throw new Error('input and output must be different files');
  return [input, output];
}

export async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** Even dimensions for yuv420p, never below 2. */
export const even = (value: number) => Math.max(2, Math.round(value / 2) * 2);

/** What chat clients play inline: H.264 in yuv420p, `moov` first (platform notes D6). */
export const H264_FOR_CHAT = ['-c:v', 'libx264', '-preset', 'medium', '-crf', '18', '-pix_fmt', 'yuv420p'];
export const MP4_FASTSTART = ['-movflags', '+faststart', '-f', 'mp4'];
