import { accessSync, chmodSync, constants } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Where ffmpeg and ffprobe are. `FFMPEG_PATH` / `FFPROBE_PATH` win (a system build); otherwise the
 * static builds that ship inside the `@ffmpeg-installer` / `@ffprobe-installer` npm packages, so a
 * fresh machine needs only `npm ci`; otherwise whatever is on PATH.
 */

const require = createRequire(import.meta.url);

function bundled(packageName: string): string | undefined {
  try {
    const { path } = require(packageName) as { path?: string };
    if (!path) return undefined;
    ensureExecutable(path);
    return path;
  } catch {
    // No build for this platform in the package (or it is not installed): fall back to PATH.
    return undefined;
  }
}

/**
 * npm may skip the packages' `chmod u+x` install scripts (npm 11 asks before running them), and the
 * tarball's mode is not always executable for the user who runs Kinema.
 */
function ensureExecutable(path: string): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    chmodSync(path, 0o755);
  }
}

let resolved: { ffmpeg: string; ffprobe: string } | undefined;
const bundledPaths = () =>
  (resolved ??= {
    ffmpeg: bundled('@ffmpeg-installer/ffmpeg') ?? 'ffmpeg',
    ffprobe: bundled('@ffprobe-installer/ffprobe') ?? 'ffprobe',
  });

export const ffmpegPath = (): string => process.env.FFMPEG_PATH || bundledPaths().ffmpeg;
export const ffprobePath = (): string => process.env.FFPROBE_PATH || bundledPaths().ffprobe;
