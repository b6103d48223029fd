import type { ParentKind } from '../../core/job.js';

/**
 * Extend, as both platforms show it: which file of a result post is a job's video (to fetch it
 * back), and the line that links a derived result to its parent.
 */

/**
 * The mp4 of a post that is this job's: named by its seed (`kinema-<seed>.mp4`, or
 * `kinema-<n>-<seed>.mp4` in a group of variants), else the post's only mp4.
 */
export function postedVideo<T extends { name?: string | null }>(
  files: readonly T[],
  job: { seed: number; index?: number },
): T | undefined {
  const videos = files.filter((file) => /\.mp4$/i.test(file.name ?? ''));
  const names = [`kinema-${job.seed}.mp4`, ...(job.index ? [`kinema-${job.index}-${job.seed}.mp4`] : [])];
  return (
    videos.find((file) => names.includes(file.name ?? '')) ?? (videos.length === 1 ? videos[0] : undefined)
  );
}

/** "Rerun of …", "Remix of …", "Extension of … · extended to 9.9 s". */
export function parentLine(
  kind: ParentKind | undefined,
  parent: string | undefined,
  durationSeconds?: number,
) {
  if (kind === 'extend') {
    const total = durationSeconds ? `extended to ${durationSeconds.toFixed(1)} s` : 'extended';
    return parent ? `Extension of ${parent} · ${total}` : `${total[0]!.toUpperCase()}${total.slice(1)}`;
  }
  return parent ? `${kind === 'remix' ? 'Remix' : 'Rerun'} of ${parent}` : undefined;
}

/** When the post has no video to fetch back (it was linked, or deleted) and storage has none either. */
export const NOT_POSTED =
  'the video is not attached to that post (it may have been too large, or the message deleted), so it cannot be extended';
