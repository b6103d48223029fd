import type { JobPlace } from '../../core/job.js';

/**
 * How a platform writes what the member and admin commands show (`/kinema …` on Discord,
 * `/animate …` on Slack): the texts are written once (member-texts.ts, admin-texts.ts), each
 * platform passes its words.
 */
export interface CommandWords {
  bold(text: string): string;
  link(text: string, url: string): string;
  /** A moment (epoch seconds), relative to now in the reader's view ("in 3 hours"). */
  time(unix: number): string;
  /** A date and time (epoch seconds) in the reader's time zone. */
  date(unix: number): string;
  /** Where a job was asked for. */
  place(place: JobPlace): string;
  /** Text people typed, made safe to show (no pings, no fake links). */
  escape(text: string): string;
  /** What the platform calls a server. */
  server: 'server' | 'workspace';
  /** How the commands are typed there: `/kinema` and `/kinema-admin`, or `/animate` and `/animate admin`. */
  member: string;
  admin: string;
  /** How much text one answer may hold. */
  max: number;
}

/** `“prompt”`, shortened to fit a list line and escaped. */
export const quoted = (prompt: string, w: Pick<CommandWords, 'escape'>, max = 80) =>
  `“${w.escape(prompt.length > max ? `${prompt.slice(0, max - 1)}…` : prompt)}”`;

export const unix = (ms: number) => Math.round(ms / 1000);

/** Lines joined up to `max` characters; what does not fit is counted at the end. */
export function fitLines(lines: readonly string[], max: number): string {
  const kept: string[] = [];
  let length = 0;
  for (const [index, line] of lines.entries()) {
    const more = `…and ${lines.length - index} more lines`;
    if (length + line.length + 1 > max - more.length - 1) {
      kept.push(more);
      break;
    }
    kept.push(line);
    length += line.length + 1;
  }
  return kept.join('\n');
}

/** A rendering job's phase, as a list line says it. */
export const PHASE: Record<string, string> = {
  queued: 'starting',
  uploading: 'uploading the image',
  submitted: 'waiting for a GPU',
  running: 'generating',
  encoding: 'preparing the video',
  delivering: 'posting the video',
};
