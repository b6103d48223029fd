import { MODEL_PROFILES } from '../../core/models.js';
import type { FieldInfo } from '../../core/request.js';
import { FIELD_INFO } from '../../core/request.js';
import type { JobView } from '../../service/job-views.js';
import type { PersonJobs, QuotaLine, QuotaStatus } from '../../service/member-desk.js';
import type { MadeVideo } from '../../service/person-history.js';
import type { QuotaScope } from '../../service/quotas.js';
import { type CommandWords, fitLines, PHASE, quoted, unix } from './command-words.js';

/** What the member commands show (`jobs`, `quota`, `help`, `history`), in any platform's words. */

/** Links to each job's status or result message, found by the platform; absent when unknown. */
export type JobLinks = ReadonlyMap<string, string>;

const modelName = (model: string) => MODEL_PROFILES[model as keyof typeof MODEL_PROFILES]?.label ?? model;

const linked = (links: JobLinks, jobId: string, text: string, w: CommandWords) => {
  const url = links.get(jobId);
  return url ? w.link(text, url) : undefined;
};

function inFlightLine(view: JobView, links: JobLinks, w: CommandWords): string {
  const parts = [quoted(view.prompt, w)];
  if (view.state === 'rendering') {
    parts.push(
      `${PHASE[view.phase ?? 'queued'] ?? view.phase}${view.percent !== undefined ? ` ${view.percent}%` : ''}`,
    );
    if (view.etaAt) parts.push(`ready ${w.time(unix(view.etaAt))}`);
  } else if (view.held === 'paused') parts.push(`held: this ${w.server} is paused`);
  else if (view.held === 'cap') parts.push('held until one of your videos finishes');
  else if (view.position) parts.push(`#${view.position.position} of ${view.position.of} in line`);
  else parts.push('waiting');
  if (view.relaxed) parts.push('relaxed (over quota)');
  parts.push(w.place(view.place));
  const link = linked(links, view.jobId, 'status', w);
  if (link) parts.push(link);
  return `• ${parts.join(' · ')}`;
}

const OUTCOME: Record<string, string> = {
  succeeded: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
  withheld: 'withheld by moderation',
};

export function jobsText(jobs: PersonJobs, links: JobLinks, w: CommandWords): string {
  const lines: string[] = [];
  if (jobs.rendering.length > 0) {
    lines.push(w.bold(`Rendering (${jobs.rendering.length})`));
    for (const view of jobs.rendering) lines.push(inFlightLine(view, links, w));
  }
  if (jobs.waiting.length > 0) {
    lines.push(w.bold(`Waiting (${jobs.waiting.length})`));
    for (const view of jobs.waiting) lines.push(inFlightLine(view, links, w));
  }
  if (lines.length === 0) lines.push('You have no videos waiting or rendering.');
  if (jobs.recent.length > 0) {
    lines.push(w.bold('Recent'));
    for (const job of jobs.recent) {
      const parts = [
        quoted(job.prompt, w),
        OUTCOME[job.outcome] ?? job.outcome,
        w.time(unix(job.finishedAt)),
      ];
      const link = linked(links, job.jobId, job.outcome === 'succeeded' ? 'video' : 'message', w);
      if (link) parts.push(link);
      lines.push(`• ${parts.join(' · ')}`);
    }
  }
  return fitLines(lines, w.max);
}

const SCOPE_LABEL: Record<QuotaScope, (w: CommandWords) => string> = {
  person: () => 'You (every server)',
  server: (w) => `This ${w.server}`,
  total: () => 'The whole bot',
};

function quotaLine(scope: QuotaScope, line: QuotaLine, w: CommandWords): string {
  const label = SCOPE_LABEL[scope](w);
  const queued = line.reserved > 0 ? `, ${line.reserved} queued` : '';
  if (line.limit === 0) return `• ${label}: ${line.used} made${queued}; no limit`;
  const frees = line.freesAt ? `; the next one frees up ${w.time(unix(line.freesAt))}` : '';
  return `• ${label}: ${line.used} of ${line.limit} used${queued}, ${line.left ?? 0} left${frees}`;
}

export function quotaText(status: QuotaStatus, w: CommandWords): string {
  const hours = Math.round(status.windowMs / 3_600_000);
  const lines = [w.bold(`Videos in the last ${hours} hours`)];
  for (const scope of ['person', 'server', 'total'] as const) {
    const line = status.lines[scope];
    if (line && (scope !== 'total' || line.limit > 0)) lines.push(quotaLine(scope, line, w));
  }
  lines.push(
    status.overflow === 'relax'
      ? 'Over a quota, new videos still queue, behind everyone within quota (relax mode).'
      : 'Over a quota, new videos are refused until one frees up. A video counts once it is sent to render; refused, failed-before-start and cancelled-while-waiting ones cost nothing.',
  );
  return fitLines(lines, w.max);
}

/** "5 to 241 (4n+1), default 81": what a setting takes, from the schema. */
export function rangeOf(field: FieldInfo, server = 'server'): string {
  const fallback =
    field.defaultValue === null
      ? field.name === 'model'
        ? `this ${server}'s default model`
        : 'none'
      : field.defaultValue === ''
        ? 'off'
        : String(field.defaultValue);
  let range: string;
  switch (field.kind) {
    case 'integer':
    case 'number':
      range = `${field.kind === 'integer' ? 'whole number' : 'number'} ${field.min} to ${field.max}`;
      break;
    case 'boolean':
      range = 'true or false';
      break;
    case 'choice':
      range = (field.choices ?? []).map((c) => (c === '' ? 'off' : String(c))).join(', ');
      break;
    case 'url':
      range = 'https:// URL of a .safetensors file';
      break;
    default:
      range = `text up to ${field.maxLength} characters`;
  }
  return `${range}; default ${fallback}`;
}

/** Every setting with what it takes and its default, generated from the request schema. */
export function helpText(w: CommandWords, intro: readonly string[]): string {
  const line = (field: FieldInfo) => `• \`${field.name}\` ${field.description}: ${rangeOf(field, w.server)}`;
  const lines = [
    ...intro,
    w.bold('Options'),
    ...FIELD_INFO.filter((field) => field.common).map(line),
    w.bold('Advanced (key=value)'),
    ...FIELD_INFO.filter((field) => !field.common).map(line),
    w.bold('Your own'),
    `• \`${w.member} jobs\`: your waiting, rendering and recent videos, with Cancel buttons`,
    `• \`${w.member} quota\`: how many videos you have left and when one frees up`,
    `• \`${w.member} history\`: your last 20 videos with their prompt, seed and settings`,
  ];
  return fitLines(lines, w.max);
}

export function historyText(videos: readonly MadeVideo[], links: JobLinks, w: CommandWords): string {
  if (videos.length === 0) return 'You have not made any videos yet (or they are older than 30 days).';
  const lines = [w.bold(`Your last ${videos.length} video${videos.length === 1 ? '' : 's'}`)];
  for (const video of videos) {
    const parts = [quoted(video.prompt, w, 120), `seed ${video.seed}`, modelName(video.model)];
    if (video.durationSeconds) parts.push(`${video.durationSeconds.toFixed(1)} s`);
    else if (video.numFrames) parts.push(`${video.numFrames} frames`);
    parts.push(w.date(unix(video.finishedAt)));
    const link = linked(links, video.jobId, 'post', w);
    if (link) parts.push(link);
    lines.push(`• ${parts.join(' · ')}`);
  }
  return fitLines(lines, w.max);
}
