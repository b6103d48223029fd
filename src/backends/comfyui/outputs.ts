/**
 * Which file of a finished prompt is the video (spec §4), and its media type. Video save nodes list
 * their files under `images`, `gifs` or `videos` depending on the node.
 */

/** A file a history entry points at, downloadable with `GET /view`. */
export interface ComfyFileRef {
  filename: string;
  subfolder: string;
  type: string;
  format?: string;
}

const VIDEO_EXTENSIONS = ['.mp4', '.webm', '.mov', '.mkv', '.webp', '.gif'];

/**
 * Output picking rule (spec §4): walk every output node, collect `images`, `gifs` and `videos`
 * entries, prefer `type == "output"`, choose by video extension or a `video/…` format.
 */
export function pickVideoOutput(outputs: unknown): ComfyFileRef | undefined {
  if (!outputs || typeof outputs !== 'object') return undefined;
  const candidates: { ref: ComfyFileRef; score: number }[] = [];
  for (const output of Object.values(outputs as Record<string, unknown>)) {
    if (!output || typeof output !== 'object') continue;
    for (const key of ['images', 'gifs', 'videos']) {
      const list = (output as Record<string, unknown>)[key];
      if (!Array.isArray(list)) continue;
      for (const entry of list) {
        if (!entry || typeof entry !== 'object') continue;
        const { filename, subfolder, type, format } = entry as Record<string, unknown>;
        if (typeof filename !== 'string' || filename === '') continue;
        const lower = filename.toLowerCase();
        const extension = VIDEO_EXTENSIONS.findIndex((ext) => lower.endsWith(ext));
        const videoFormat = typeof format === 'string' && format.startsWith('video/');
        if (extension < 0 && !videoFormat) continue;
        const kind = typeof type === 'string' && type !== '' ? type : 'output';
        const score =
          (kind === 'output' ? 100 : 0) +
          (extension >= 0 ? VIDEO_EXTENSIONS.length - extension : 0) * 2 +
          (videoFormat ? 1 : 0);
        candidates.push({
          ref: {
            filename,
            subfolder: typeof subfolder === 'string' ? subfolder : '',
            type: kind,
            ...(typeof format === 'string' ? { format } : {}),
          },
          score,
        });
      }
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  return candidates[0]?.ref;
}

export function contentTypeOf(ref: ComfyFileRef): string {
  if (ref.format?.startsWith('video/')) return ref.format.includes('mp4') ? 'video/mp4' : ref.format;
  const lower = ref.filename.toLowerCase();
  if (lower.endsWith('.mp4')) return 'video/mp4';
  if (lower.endsWith('.webm')) return 'video/webm';
  if (lower.endsWith('.mov')) return 'video/quicktime';
  if (lower.endsWith('.mkv')) return 'video/x-matroska';
  if (lower.endsWith('.webp')) return 'image/webp';
  if (lower.endsWith('.gif')) return 'image/gif';
  return 'application/octet-stream';
}
