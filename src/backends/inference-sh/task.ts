/**
 * Task shapes and status rules of inference.sh (shared/specs/inference-sh-api.md §3, §5, §10.3).
 * Everything here is pure, so the parsing rules are tested without a server.
 */

export const STATUS_NAMES = [
  'unknown',
  'received',
  'queued',
  'dispatched',
  'preparing',
  'serving',
  'setting_up',
  'running',
  'cancelling',
  'uploading',
  'completed',
  'failed',
  'cancelled',
] as const;
export type StatusName = (typeof STATUS_NAMES)[number];

/** The numbering before sdk-js `f8f039f`: no `cancelling`, and 9/10/11 are the terminal states. */
const OLD_NUMBERING: readonly StatusName[] = [
  'unknown',
  'received',
  'queued',
  'dispatched', // "scheduled" then
  'preparing',
  'serving',
  'setting_up',
  'running',
  'uploading',
  'completed',
  'failed',
  'cancelled',
];

const TERMINAL = new Set<StatusName>(['completed', 'failed', 'cancelled']);
export const isTerminal = (status: StatusName | undefined): status is 'completed' | 'failed' | 'cancelled' =>
  status !== undefined && TERMINAL.has(status);

export interface TaskLog {
  id?: string;
  log_type?: number;
  content?: string;
  created_at?: string;
}

export interface TaskEvent {
  id?: string;
  status?: number | string;
  event_time?: string;
  created_at?: string;
}

/** The fields of a task the bot reads; everything else is kept but not interpreted. */
export interface Task {
  id?: string;
  status?: number | string;
  status_text?: string;
  output?: unknown;
  error?: unknown;
  events?: TaskEvent[];
  logs?: TaskLog[];
  created_at?: string;
  updated_at?: string;
  [key: string]: unknown;
}

function nameFromString(value: string): StatusName | undefined {
  const lowered = value.trim().toLowerCase().replace(/[\s-]/g, '_');
  if (lowered === 'scheduled') return 'dispatched';
  if (lowered === 'setup' || lowered === 'settingup') return 'setting_up';
  if (lowered === 'canceled') return 'cancelled';
  if (lowered === 'cancelling' || lowered === 'canceling') return 'cancelling';
  return (STATUS_NAMES as readonly string[]).includes(lowered) ? (lowered as StatusName) : undefined;
}

export const hasOutput = (task: Task): boolean =>
  task.output !== null && task.output !== undefined && !(isObjectEmpty(task.output) ?? false);

function isObjectEmpty(value: unknown): boolean | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return Object.keys(value).length === 0;
}

export const errorText = (task: Task): string | undefined => {
  const { error } = task;
  if (typeof error === 'string' && error.trim() !== '') return error.trim();
  if (error && typeof error === 'object') {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string' && message.trim() !== '') return message.trim();
    return JSON.stringify(error);
  }
  return undefined;
};

/**
 * Decides statuses by the rules of §5: `status_text` first, then strings, then the current numbers.
 * It remembers evidence of the old numbering for the rest of the task, since a server still on it
 * sends 9 for completed, 10 for failed and 11 for cancelled.
 */
export class StatusReader {
  private oldNumbering = false;

  get usesOldNumbering(): boolean {
    return this.oldNumbering;
  }

  /** The status an object (a whole task or one stream line's payload) carries, if any. `context` is the merged task. */
  read(payload: Task, context: Task = payload): StatusName | undefined {
    const { status, status_text: text } = payload;
    if (typeof text === 'string') {
      const named = nameFromString(text);
      if (named) {
        if (typeof status === 'number' && STATUS_NAMES[status] !== named && OLD_NUMBERING[status] === named) {
          this.oldNumbering = true;
        }
        return named;
      }
    }
    if (typeof status === 'string') {
      if (/^\d+$/.test(status.trim())) return this.fromNumber(Number(status), context);
      return nameFromString(status) ?? 'unknown';
    }
    if (typeof status === 'number') return this.fromNumber(status, context);
    return undefined;
  }

  private fromNumber(code: number, context: Task): StatusName {
    if (this.oldNumbering) return OLD_NUMBERING[code] ?? 'unknown';
    // Old 9 ("completed") carries an output; the current 9 ("uploading") does not yet.
    if (code === 9 && hasOutput(context)) {
      this.oldNumbering = true;
      return 'completed';
    }
    // A current "failed" always has an error text; an old 11 ("cancelled") has none.
    if (code === 11 && errorText(context) === undefined && !hasOutput(context)) return 'cancelled';
    return STATUS_NAMES[code] ?? 'unknown';
  }
}

/** What to tell the user in each state (§5 "Meaning for the user"). */
export function describeStatus(status: StatusName): { phase: 'submitted' | 'running'; detail: string } {
  switch (status) {
    case 'unknown':
    case 'received':
    case 'queued':
      return { phase: 'submitted', detail: 'waiting for a GPU' };
    case 'dispatched':
    case 'preparing':
    case 'serving':
      return { phase: 'running', detail: 'starting' };
    case 'setting_up':
      return { phase: 'running', detail: 'loading the model' };
    case 'running':
      return { phase: 'running', detail: 'generating' };
    // 8 is "cancelling" today but "uploading" on the old numbering; "finishing" is true of both.
    case 'cancelling':
    case 'uploading':
    case 'completed':
    case 'failed':
    case 'cancelled':
      return { phase: 'running', detail: 'finishing' };
  }
}

/** A status at or past the point where a worker has the task (so run time, not queue time, counts). */
export const isActive = (status: StatusName): boolean =>
  !['unknown', 'received', 'queued'].includes(status) && !isTerminal(status);

export interface OutputFile {
  url: string;
  contentType?: string;
  bytes?: number;
}

function fileOf(value: unknown): OutputFile | undefined {
  if (typeof value === 'string') {
    return /^(https?|inf):\/\//i.test(value.trim()) ? { url: value.trim() } : undefined;
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const file = value as { uri?: unknown; url?: unknown; content_type?: unknown; size?: unknown };
    const uri =
      typeof file.uri === 'string' && file.uri ? file.uri : typeof file.url === 'string' ? file.url : '';
    if (!uri) return undefined;
    return {
      url: uri,
      ...(typeof file.content_type === 'string' ? { contentType: file.content_type } : {}),
      ...(typeof file.size === 'number' && file.size > 0 ? { bytes: file.size } : {}),
    };
  }
  return undefined;
}

/**
 * The result file (§10.3): the configured key first, string → URL, object → `uri` (never `path`),
 * else the first file-like value of the output.
 */
export function outputFile(output: unknown, key: string): OutputFile | undefined {
  if (typeof output === 'string') return fileOf(output);
  if (!output || typeof output !== 'object' || Array.isArray(output)) return undefined;
  const record = output as Record<string, unknown>;
  const preferred = fileOf(record[key]);
  if (preferred) return preferred;
  for (const value of Object.values(record)) {
    const file = fileOf(value);
    if (file) return file;
  }
  return undefined;
}

/** Epoch ms of the first event at or after a worker took the task, from `events[]` when present. */
export function activeSinceFromEvents(task: Task, reader: StatusReader): number | undefined {
  if (!Array.isArray(task.events)) return undefined;
  let first: number | undefined;
  for (const event of task.events) {
    const status = reader.read({ status: event.status }, {});
    const at = Date.parse(event.event_time ?? event.created_at ?? '');
    if (status && isActive(status) && !Number.isNaN(at))
      first = first === undefined ? at : Math.min(first, at);
  }
  return first;
}
