import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ffprobeJson, InvalidVideoError, type VideoToolOptions } from './ffmpeg.js';

/** What a video file is: codec, pixel format, size, timing, and whether chat clients can stream it. */

export interface ProbeResult {
  /** ffprobe codec name of the first video stream: `h264`, `hevc`, `mpeg4`, `av1`… */
  codec: string;
  /** e.g. `yuv420p`; empty when ffprobe does not report one. */
  pixFmt: string;
  width: number;
  height: number;
  /** 0 when the container does not say. */
  durationSeconds: number;
  /** Frames per second of the video stream; 0 when unknown. */
  frameRate: number;
  /** File size. */
  bytes: number;
  /** True when the top-level `moov` atom comes before `mdat` (playback can start before the download ends). */
  fastStart: boolean;
  hasAudio: boolean;
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
    avg_frame_rate?: string;
    r_frame_rate?: string;
  }>;
  format?: { duration?: string; format_name?: string };
}

/** `24/1` → 24; 0 for `0/0` or anything unreadable. */
function rational(value: string | undefined): number {
  const [num, den] = (value ?? '').split('/').map(Number);
  const rate = den === undefined ? num! : num! / den;
  return Number.isFinite(rate) && rate > 0 ? rate : 0;
}

/** Codec, pixel format, size, duration, frame rate, file size and moov position of a video file. */
export async function probeVideo(filePath: string, options: VideoToolOptions = {}): Promise<ProbeResult> {
  // Absolute, so a name starting with "-" is never read as an option.
  const path = resolve(filePath);
  const { size } = await stat(path);
  const parsed = await ffprobeJson<FfprobeOutput>(
    path,
    [
      '-show_entries',
      'stream=codec_type,codec_name,pix_fmt,width,height,duration,avg_frame_rate,r_frame_rate:format=duration,format_name',
    ],
    options,
  );
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
    frameRate: rational(video.avg_frame_rate) || rational(video.r_frame_rate),
    bytes: size,
    fastStart: await hasFastStart(path),
    hasAudio: streams.some((stream) => stream.codec_type === 'audio'),
  };
}

/**
 * Frames in the first video stream. By default counted from the container's packets (fast: nothing
 * is decoded; one packet is one frame in mp4/H.264); `decode: true` counts decoded frames.
 */
export async function countFrames(
  filePath: string,
  options: VideoToolOptions & { decode?: boolean } = {},
): Promise<number> {
  const field = options.decode ? 'nb_read_frames' : 'nb_read_packets';
  const parsed = await ffprobeJson<{ streams?: Array<Record<string, string | undefined>> }>(
    resolve(filePath),
    [
      options.decode ? '-count_frames' : '-count_packets',
      '-select_streams',
      'v:0',
      '-show_entries',
      `stream=${field}`,
    ],
    options,
  );
  const count = Number(parsed.streams?.[0]?.[field]);
  if (!Number.isInteger(count) || count <= 0) throw new InvalidVideoError('the file has no video frames');
  return count;
}

/** Whether a probed file already plays inline in chat clients without re-encoding. */
export const isChatPlayable = (probe: Pick<ProbeResult, 'codec' | 'pixFmt'>): boolean =>
  probe.codec === 'h264' && probe.pixFmt === 'yuv420p';
