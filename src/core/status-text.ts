import type { Cost, DeliveryJobData, HoldReason, JobOutcome, JobProgress, Phase } from './job.js';
import { MODEL_PROFILES } from './models.js';
import type { GenerationRequest } from './request.js';

/**
 * The status of one job, rendered once and platform-neutrally. Reporters only turn it into Discord
 * components or Slack blocks, so both platforms always say the same thing.
 */

export type JobState =
  | 'waiting'
  | 'active'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  /** Rendered, but not posted: moderation flagged it (only the requester is told why). */
  | 'withheld';

export interface JobSnapshot {
  jobId: string;
  state: JobState;
  request: GenerationRequest;
  requesterName?: string;
  position?: { position: number; of: number };
  progress?: JobProgress;
  outcome?: JobOutcome;
  notes?: string[];
  /** Waiting in relax mode: over quota, behind everyone within quota (QUOTA_OVERFLOW=relax). */
  relaxed?: boolean;
  /** A worker put it back: its person's other videos are rendering, or its server is paused. */
  held?: HoldReason;
  /** A group of variants on one status message: each member's state, in order. */
  variants?: VariantState[];
}

/** One video of a group, as its line on the group's status message shows it. */
export interface VariantState {
  index: number;
  seed: number;
  state: JobState;
  percent?: number;
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
  if (snapshot.variants) return renderGroupStatus(snapshot, snapshot.variants);
  const { request, progress } = snapshot;
  const details = [`Model: ${modelLabel(request)} · Seed: ${request.seed}${request.loop ? ' · Loop' : ''}`];
  const notes = snapshot.notes ?? [];
  let headline: string;
  let percent: number | undefined;
  let etaUnix: number | undefined;
  switch (snapshot.state) {
    case 'waiting':
      headline = waitingHeadline(snapshot);
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
    case 'withheld':
      // Public: says only that it will not be posted; the requester is told why, privately.
      headline = 'Finished, but not posted here (it did not pass the content check)';
      break;
  }
  for (const note of notes) details.push(`Note: ${note}`);
  return {
    headline,
    bar: percent === undefined ? undefined : progressBar(percent),
    percent,
    etaUnix,
    details,
    finished: FINISHED.has(snapshot.state),
  };
}

const VARIANT_TEXT: Record<JobState, string> = {
  waiting: 'queued',
  active: 'generating',
  retrying: 'retrying',
  succeeded: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
  withheld: 'not posted (content check)',
};

/** "2 of 4 done", the mean progress of the group, and one line per video. */
function renderGroupStatus(snapshot: JobSnapshot, variants: VariantState[]): StatusView {
  const size = variants.length;
  const done = variants.filter((variant) => variant.state === 'succeeded').length;
  const ended = variants.filter((variant) => FINISHED.has(variant.state)).length;
  const stopped = variants.filter((variant) => variant.state === 'cancelled').length;
  const share = (variant: VariantState) => (FINISHED.has(variant.state) ? 100 : (variant.percent ?? 0));
  const percent = Math.round(variants.reduce((sum, variant) => sum + share(variant), 0) / size);
  const finished = ended === size;
  let headline = `${done} of ${size} done`;
  if (stopped > 0) headline += ` · ${stopped} cancelled`;
  const details = [
    `Model: ${modelLabel(snapshot.request)}`,
    ...variants.map((variant) => {
      const line = `#${variant.index} · seed ${variant.seed}: ${VARIANT_TEXT[variant.state]}`;
      return variant.state === 'active' && variant.percent !== undefined
        ? `${line} ${variant.percent} %`
        : line;
    }),
  ];
  return { headline, bar: progressBar(percent), percent, details, finished };
}

const FINISHED: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled', 'withheld']);

function waitingHeadline({ position, relaxed, held }: JobSnapshot): string {
  const mode = relaxed ? ' in relax mode (over quota; starts when nobody within quota waits)' : '';
  if (held === 'paused') return 'Paused: an admin paused Kinema in this server; it starts when resumed';
  if (held === 'cap') return `Queued${mode}: starts when one of your other videos finishes`;
  return position ? `Queued${mode}: #${position.position} of ${position.of}` : `Queued${mode}: starting soon`;
}

/** A stable string of what the user would see, to skip edits that change nothing. */
export function statusFingerprint(view: StatusView): string {
  return JSON.stringify([view.headline, view.bar, view.etaUnix, view.details]);
}

/** "≈ 0.45 USD", the estimate from PRICE_TABLE. */
export const costText = (cost: Cost) => `≈ ${cost.amount.toFixed(2)} ${cost.currency}`;

/** Caption of a finished video: prompt, seed, model, length, estimated cost, who asked. */
export function resultCaption(
  request: GenerationRequest,
  info: { durationSeconds?: number; requesterName?: string; cost?: Cost },
  maxPrompt = 300,
): string[] {
  const lines = [`“${truncate(request.prompt, maxPrompt)}”`];
  const parts = [modelLabel(request), `seed ${request.seed}`];
  if (info.durationSeconds) parts.push(`${info.durationSeconds.toFixed(1)} s`);
  if (info.cost) parts.push(costText(info.cost));
  if (info.requesterName) parts.push(`for ${info.requesterName}`);
  lines.push(parts.join(' · '));
  return lines;
}

/** The final snapshot of a delivered job: succeeded, failed or cancelled, with its outcome. */
export function outcomeSnapshot(delivery: DeliveryJobData): JobSnapshot {
  const { outcome } = delivery;
  const state: JobState = outcome.kind;
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
