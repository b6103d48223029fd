import {
  ffmpeg,
  H264_FOR_CHAT,
  InvalidVideoError,
  inputAndOutput,
  MP4_FASTSTART,
  removeQuietly,
  type VideoToolOptions,
} from './ffmpeg.js';
import { countFrames, type ProbeResult, probeVideo } from './probe.js';

/**
 * Cutting and joining clips for extend and loop. Both re-encode to what chat plays inline (H.264,
 * yuv420p, `+faststart`), video only: the Wan models make silent clips.
 */

/** Used when a file does not say its frame rate (Wan's default). */
const FALLBACK_FPS = 16;

async function encodeVideo(args: string[], output: string, what: string, options: VideoToolOptions) {
  try {
    await ffmpeg([...args, '-an', ...H264_FOR_CHAT, ...MP4_FASTSTART, output], what, options);
    return await probeVideo(output, options);
  } catch (error) {
    await removeQuietly(output);
    throw error;
  }
}

/**
 * Writes the original followed by its continuation, whose first frame is the original's last
 * frame (it was rendered from it): that frame is dropped, so the seam shows neither a repeated
 * nor a flashing frame. The continuation is scaled (letterboxed if its shape differs) and
 * retimed to the original's size and frame rate. The result lasts both durations minus one frame.
 */
export async function appendContinuation(
  originalPath: string,
  continuationPath: string,
  outputPath: string,
  options: VideoToolOptions = {},
): Promise<ProbeResult> {
  const [original, output] = inputAndOutput(originalPath, outputPath);
  const [continuation] = inputAndOutput(continuationPath, outputPath);
  const source = await probeVideo(original, options);
  const fps = source.frameRate || FALLBACK_FPS;
  const { width, height } = source;
  const graph = [
    `[0:v]fps=${fps},setsar=1,format=yuv420p[first]`,
    // Retimed before trimming: its first frame (at time 0) is still the shared one, and the fps
    // filter does not add a frame at the end as it does after a trim.
    `[1:v]fps=${fps},trim=start_frame=1,setpts=PTS-STARTPTS,` +
      `scale=${width}:${height}:force_original_aspect_ratio=decrease,` +
      `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[next]`,
    '[first][next]concat=n=2:v=1:a=0[joined]',
  ].join(';');
  return encodeVideo(
    ['-i', original, '-i', continuation, '-filter_complex', graph, '-map', '[joined]'],
    output,
    'join the continuation',
    options,
  );
}

/**
 * Writes the video without its last frame. A clip rendered to loop ends on its first frame;
 * without the repeat, playing it in a loop shows no stutter at the seam.
 */
export async function dropLastFrame(
  inputPath: string,
  outputPath: string,
  options: VideoToolOptions = {},
): Promise<ProbeResult> {
  const [input, output] = inputAndOutput(inputPath, outputPath);
  const frames = await countFrames(input, options);
  if (frames < 2) throw new InvalidVideoError('a one-frame video has no frame to spare');
  return encodeVideo(
    ['-i', input, '-map', '0:v:0', '-vf', `trim=end_frame=${frames - 1}`],
    output,
    'drop the last frame',
    options,
  );
}
