/**
 * Video post-processing with ffmpeg/ffprobe, run as child processes (no shell) on files: nothing is
 * held whole in memory. Chat clients play an mp4 inline when it is H.264 in yuv420p, and start it
 * quickly when the `moov` atom comes before `mdat` (platform notes D6).
 *
 * One module per job; this one gathers them so callers import from one place.
 */
export { type ChatVideoOptions, normaliseForChat } from './chat-video.js';
export { appendContinuation, dropLastFrame } from './edit.js';
export {
  checkFfmpeg,
  FfmpegError,
  FfmpegMissingError,
  InvalidVideoError,
  type VideoToolOptions,
} from './ffmpeg.js';
export { type FitToSizeOptions, fitToSize } from './fit-to-size.js';
export {
  type FramePosition,
  lastFrame,
  posterFrame,
  type SampledFrame,
  type SampleFramesOptions,
  sampleFrames,
} from './frames.js';
export { makeStills, type PreparedResult, prepareForDelivery, type ResultStills } from './prepare-result.js';
export { countFrames, hasFastStart, isChatPlayable, type ProbeResult, probeVideo } from './probe.js';
