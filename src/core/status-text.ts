import type { DeliveryJobData, JobOutcome, JobProgress, Phase } from './job.js';
import { MODEL_PROFILES } from './models.js';
import type { GenerationRequest } from './request.js';

/**
 * The status of one job, rendered once and platform-neutrally. Reporters only turn it into Discord
 * components or Slack blocks, so both platforms always say the same thing.
 */

export type JobState = 'waiting' | 'active' | 'retrying' | 'succeeded' | 'failed' | 'cancelled';

export interface JobSnapshot {
  jobId: string;
  state: JobState;
  request: GenerationRequest;
  requesterName?: string;
  position?: { position: number; of: number };
  progress?: JobProgress;
  outcome?: JobOutcome;
  notes?: string[];
}

export interface StatusView {
  /** One line: "Queued: #2 of 5", "Generating… 42 %", "Done", "Failed: …". */
  headline: string;
  /** A text bar such as ▰▰▰▱▱▱▱▱▱▱ when a percent is known. */
  bar?: string;
  percent?: number;
  /** Epoch seconds, for a live "in 3 minutes" (Discord `<t:…:R>`, Slack `<!date^…>`). */
  etaUnix?: number;
  details: string[];
  finished: boolean;
}

const PHASE_TEXT: Record<Phase, string> = {
  queued: 'Queued',
  uploading: 'Uploading the image',
  submitted: 'Waiting for a GPU',
  running: 'Generating',
  encoding: 'Preparing the video',
  delivering: 'Posting the video',
};

export function progressBar(percent: number, width = 12): string {
  const filled = Math.max(0, Math.min(width, Math.round((percent / 100) * width)));
  return '▰'.repeat(filled) + '▱'.repeat(width - filled);
}

export function modelLabel(request: GenerationRequest): string {
  return MODEL_PROFILES[request.model]?.label ?? request.model;
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function renderStatus(snapshot: JobSnapshot): StatusView {
  const { request, progress } = snapshot;
  const details = [`Model: ${modelLabel(request)} · Seed: ${request.seed}`];
  const notes = snapshot.notes ?? [];
  let headline: string;
  let percent: number | undefined;
  let etaUnix: number | undefined;
  switch (snapshot.state) {
    case 'waiting':
      headline = snapshot.position
        ? `Queued: #${snapshot.position.position} of ${snapshot.position.of}`
        : 'Queued: starting soon';
      break;
    case 'retrying':
      headline = 'Retrying after a temporary problem';
      break;
    case 'active': {
      const phase = progress?.phase ?? 'queued';
      headline = PHASE_TEXT[phase === 'queued' ? 'uploading' : phase];
      if (progress?.detail && progress.detail.toLowerCase() !== headline.toLowerCase()) {
        headline += ` (${progress.detail})`;
      }
      if (progress?.backendQueuePosition) headline += ` · #${progress.backendQueuePosition} at the GPU`;
      percent = progress?.percent;
      if (progress?.etaAt && progress.etaAt > Date.now()) etaUnix = Math.round(progress.etaAt / 1000);
      break;
    }
    case 'succeeded':
      headline = 'Done';
      percent = 100;
      break;
    case 'failed':
      headline = `Failed: ${snapshot.outcome?.kind === 'failed' ? snapshot.outcome.message : 'unknown error'}`;
      break;
    case 'cancelled':
      headline = `Cancelled${snapshot.outcome?.kind === 'cancelled' && snapshot.outcome.by ? ` by ${snapshot.outcome.by}` : ''}`;
      break;
  }
  for (const note of notes) details.push(`Note: ${note}`);
  return {
    headline,
    bar: percent === undefined ? undefined : progressBar(percent),
    percent,
    etaUnix,
    details,
    finished: snapshot.state === 'succeeded' || snapshot.state === 'failed' || snapshot.state === 'cancelled',
  };
}

/** A stable string of what the user would see, to skip edits that change nothing. */
export function statusFingerprint(view: StatusView): string {
  return JSON.stringify([view.headline, view.bar, view.etaUnix, view.details]);
}

/** Caption of a finished video: prompt, seed, model, length, who asked. */
export function resultCaption(
  request: GenerationRequest,
  info: { durationSeconds?: number; requesterName?: string },
  maxPrompt = 300,
): string[] {
  const lines = [`“${truncate(request.prompt, maxPrompt)}”`];
  const parts = [modelLabel(request), `seed ${request.seed}`];
  if (info.durationSeconds) parts.push(`${info.durationSeconds.toFixed(1)} s`);
  if (info.requesterName) parts.push(`for ${info.requesterName}`);
  lines.push(parts.join(' · '));
  return lines;
}

/** The final snapshot of a delivered job: succeeded, failed or cancelled, with its outcome. */
export function outcomeSnapshot(delivery: DeliveryJobData): JobSnapshot {
  const { outcome } = delivery;
  const state: JobState =
    outcome.kind === 'succeeded' ? 'succeeded' : outcome.kind === 'failed' ? 'failed' : 'cancelled';
  return {
    jobId: delivery.jobId,
    state,
    request: delivery.request,
    requesterName: delivery.requester.displayName,
    notes: outcome.kind === 'failed' ? outcome.notes : [],
    outcome,
  };
}

/** What to tell whoever asked to cancel, for each outcome of the cancel request. */
export const CANCEL_ANSWER = {
  removed: 'Cancelled before it started.',
  signalled: 'Cancelling: the render is being stopped.',
  finished: 'That job has already finished.',
  unknown: 'That job is no longer known (it may be too old).',
} as const satisfies Record<string, string>;
