import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPermanent, TransientError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import { InferenceApiError } from './envelope.js';
import type { InferenceHttp } from './http.js';
import { classifyNetworkError } from './network-error.js';
import { errorText, hasOutput, isTerminal, type StatusName, StatusReader, type Task } from './task.js';

/**
 * Following one task to its end (shared/specs/inference-sh-api.md §6-§7): the NDJSON stream with the
 * SDKs' merge rule, a silence timeout, reconnect with resync through `GET /tasks/{id}`, and polling
 * once the reconnect budget is spent.
 */

export interface WatchOptions {
  http: InferenceHttp;
  taskId: string;
  signal: AbortSignal;
  log: Logger;
  /** Consecutive stream failures allowed before switching to polling. */
  reconnectBudget: number;
  reconnectBackoff: { baseMs: number; maxMs: number };
  pollIntervalMs: number;
  /** Consecutive failed polls tolerated before giving up with a TransientError. */
  maxPollErrors: number;
  /**
   * While a stream stays open, `GET /tasks/{id}` at least this often (checked as lines, heartbeats
   * included, arrive) and finish when the task is terminal: a stream that keeps sending heartbeats
   * but never the terminal line must not be followed forever.
   */
  resyncEveryMs: number;
  /**
   * Epoch ms after which following gives up with a TransientError. Armed only once the task has been
   * fetched, so a task that already ended is still reported after the deadline.
   */
  deadlineAt: number;
  /** The span deadlineAt stands for (submission to deadline), for the error text. */
  deadlineMs: number;
}

const formatSpan = (ms: number): string =>
  ms >= 3_600_000
    ? `${Number((ms / 3_600_000).toFixed(1))} h`
    : ms >= 60_000
      ? `${Number((ms / 60_000).toFixed(1))} min`
      : `${Number((ms / 1000).toFixed(1))} s`;

/** The deadline of WatchOptions passed: the task should have ended long ago. */
class FollowDeadline extends Error {
  constructor() {
    super('the follow deadline passed');
    this.name = 'FollowDeadline';
  }
}

export type WatchEvent =
  /** The accumulated task changed (a stream line, a resync or a poll). */
  | { kind: 'update'; task: Task; status: StatusName | undefined; via: 'stream' | 'resync' | 'poll' }
  /** Proof of life without news (heartbeat, unchanged poll): a chance to move a time-based percent. */
  | { kind: 'tick' }
  /** Last event. `completed` always has an output; `failed` carries the service's text. */
  | { kind: 'terminal'; task: Task; status: 'completed' | 'failed' | 'cancelled'; error?: string };

class StreamSilence extends Error {
  constructor(ms: number) {
    super(`no line from the stream for ${ms} ms`);
    this.name = 'StreamSilence';
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Parsed NDJSON lines from a body, with a silence timer that destroys it when nothing arrives. */
async function* ndjson(
  body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown },
  silenceMs: number,
  log: Logger,
): AsyncGenerator<unknown> {
  const decoder = new StringDecoder('utf8');
  let buffer = '';
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => body.destroy(new StreamSilence(silenceMs)), silenceMs);
  };
  arm();
  try {
    for await (const chunk of body) {
      buffer += decoder.write(chunk);
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        if (line === '') continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          log.warn({ line: line.slice(0, 200) }, 'unreadable NDJSON line skipped');
          arm();
          continue;
        }
        // The silence clock measures the server, not how long the consumer takes between pulls.
        clearTimeout(timer);
        yield parsed;
        arm();
      }
    }
    const rest = (buffer + decoder.end()).trim();
    if (rest !== '') {
      try {
        yield JSON.parse(rest);
      } catch {
        log.warn({ line: rest.slice(0, 200) }, 'unterminated NDJSON line skipped');
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Errors after which following cannot succeed: the key is refused or the task does not exist (or is
 * not ours). Everything else (network, silence, 5xx, odd lines) is worth a reconnect or a poll.
 */
function isFatal(error: unknown): boolean {
  if (error instanceof InferenceApiError) return [401, 403, 404, 410].includes(error.status);
  return isPermanent(error);
}

export async function* watchTask(options: WatchOptions): AsyncGenerator<WatchEvent> {
  const { http, taskId, log } = options;
  // The caller's signal, plus the overall deadline (armed once the task was first seen).
  const deadline = new AbortController();
  let deadlineTimer: NodeJS.Timeout | undefined;
  const signal = AbortSignal.any([options.signal, deadline.signal]);
  try {
    yield* follow();
  } catch (error) {
    if (deadline.signal.aborted && !options.signal.aborted) {
      throw new TransientError(
        `inference.sh task ${taskId} has not finished ${formatSpan(options.deadlineMs)} after it was submitted, longer than any task should take (the service expires tasks queued for about 24 h); stopped following it`,
        undefined,
        { cause: error },
      );
    }
    throw error;
  } finally {
    clearTimeout(deadlineTimer);
  }

  async function* follow(): AsyncGenerator<WatchEvent> {
    const reader = new StatusReader();
    const path = `/tasks/${encodeURIComponent(taskId)}`;
    let acc: Task = {};

    const fetchTask = async (mode: 'idempotent' | 'once' = 'idempotent') => {
      const task = await http.json<Task>('GET', path, { mode, signal, log });
      if (!isObject(task)) throw new TransientError(`inference.sh returned no task for ${taskId}`);
      return task;
    };

    /** The end of the task: applies the output check of §5 before reporting success. */
    const finish = async (ended: 'completed' | 'failed' | 'cancelled'): Promise<WatchEvent> => {
      let status = ended;
      // 11 without an error is "cancelled" on the old numbering but "failed" today; the full task decides.
      if (status !== 'completed' && errorText(acc) === undefined && !reader.usesOldNumbering) {
        acc = await fetchTask();
        const again = reader.read(acc);
        if (again === 'failed' || again === 'cancelled') status = again;
      }
      if (status === 'completed' && !hasOutput(acc)) {
        acc = await fetchTask();
        if (!hasOutput(acc)) {
          return {
            kind: 'terminal',
            task: acc,
            status: 'failed',
            error: errorText(acc) ?? 'inference.sh reported the task as completed but returned no video',
          };
        }
      }
      if (status === 'failed')
        return { kind: 'terminal', task: acc, status, error: errorText(acc) ?? 'task failed' };
      return { kind: 'terminal', task: acc, status };
    };

    /** Step 1 of resync: replace the accumulated task with the full one. */
    const resync = async (): Promise<WatchEvent | undefined> => {
      acc = await fetchTask();
      return { kind: 'update', task: acc, status: reader.read(acc), via: 'resync' };
    };

    const first = await resync();
    if (first) yield first;
    const firstStatus = reader.read(acc);
    if (isTerminal(firstStatus)) {
      yield await finish(firstStatus);
      return;
    }
    const armDeadline = () => deadline.abort(new FollowDeadline());
    const remaining = options.deadlineAt - Date.now();
    if (remaining <= 0) armDeadline();
    else deadlineTimer = setTimeout(armDeadline, Math.min(remaining, 2 ** 31 - 1)).unref();
    signal.throwIfAborted();

    let lastResync = Date.now();
    /** The periodic resync of a stream that is alive but may never send the terminal line. */
    const resyncDue = async (): Promise<WatchEvent | undefined> => {
      if (Date.now() - lastResync < options.resyncEveryMs) return undefined;
      lastResync = Date.now();
      try {
        return await resync();
      } catch (error) {
        if (signal.aborted || isFatal(error)) throw error;
        log.warn({ taskId, err: error }, 'inference.sh periodic resync failed; still following the stream');
        return undefined;
      }
    };

    let failures = 0;
    while (failures <= options.reconnectBudget) {
      let reason: string;
      const done = new AbortController();
      try {
        for await (const line of openStream(http, path, AbortSignal.any([signal, done.signal]), log)) {
          failures = 0;
          const resynced = await resyncDue();
          if (resynced) {
            yield resynced;
            const status = reader.read(acc);
            if (isTerminal(status)) {
              log.info({ taskId, status }, 'the task ended without the stream saying so');
              done.abort();
              yield await finish(status);
              return;
            }
          }
          if (!isObject(line)) continue;
          if (line.type === 'heartbeat') {
            yield { kind: 'tick' };
            continue;
          }
          // Typed events (`{"event":"delta",…}`) stream tokens of text apps; nothing for a video.
          if (typeof line.event === 'string') continue;
          const payload = isObject(line.data) ? line.data : line;
          acc = { ...acc, ...payload };
          const status =
            'status' in payload || 'status_text' in payload ? reader.read(payload, acc) : undefined;
          yield { kind: 'update', task: acc, status: status ?? reader.read(acc), via: 'stream' };
          if (isTerminal(status)) {
            done.abort();
            yield await finish(status);
            return;
          }
        }
        reason = 'the stream ended before the task finished';
      } catch (error) {
        if (signal.aborted) throw error;
        if (isFatal(error)) throw error;
        reason = error instanceof Error ? error.message : String(error);
      }
      failures += 1;
      log.info(
        { taskId, failures, reason: http.scrub(reason) },
        'inference.sh stream interrupted; resyncing',
      );
      try {
        lastResync = Date.now();
        const update = await resync();
        if (update) yield update;
        const status = reader.read(acc);
        if (isTerminal(status)) {
          yield await finish(status);
          return;
        }
      } catch (error) {
        if (signal.aborted || isFatal(error)) throw error;
        log.warn({ taskId, err: error }, 'inference.sh resync failed');
      }
      if (failures > options.reconnectBudget) break;
      await sleep(http.backoffMs(failures, undefined, options.reconnectBackoff), undefined, { signal });
    }

    log.warn({ taskId }, 'inference.sh stream keeps failing; following the task by polling');
    yield* poll();

    async function* poll(): AsyncGenerator<WatchEvent> {
      let lastStatus: string | undefined;
      let errors = 0;
      for (;;) {
        try {
          const brief = await http.json<{ status?: unknown }>('GET', `${path}/status`, {
            mode: 'once',
            signal,
            log,
          });
          errors = 0;
          const raw = JSON.stringify(isObject(brief) ? brief.status : null);
          if (raw !== lastStatus) {
            acc = await fetchTask('once');
            lastStatus = raw; // only once the full task is in hand, so a failed fetch is tried again
            const status = reader.read(acc);
            yield { kind: 'update', task: acc, status, via: 'poll' };
            if (isTerminal(status)) {
              yield await finish(status);
              return;
            }
          } else {
            yield { kind: 'tick' };
          }
        } catch (error) {
          if (signal.aborted || isFatal(error)) throw error;
          errors += 1;
          if (errors >= options.maxPollErrors) {
            throw error instanceof TransientError
              ? error
              : new TransientError(
                  `following inference.sh task ${taskId} failed ${errors} times in a row`,
                  undefined,
                  {
                    cause: error,
                  },
                );
          }
          const wait = http.backoffMs(errors, (error as { retryAfterMs?: number }).retryAfterMs);
          log.warn({ taskId, errors, err: error }, 'inference.sh poll failed; backing off');
          await sleep(Math.min(wait, http.retry.maxWaitMs), undefined, { signal });
          continue;
        }
        const jitter = options.pollIntervalMs * (0.8 + Math.random() * 0.4);
        await sleep(jitter, undefined, { signal });
      }
    }
  }
}

/** Opens `GET /tasks/{id}/stream` and yields its parsed lines. */
async function* openStream(http: InferenceHttp, path: string, signal: AbortSignal, log: Logger) {
  const body = await http.openStream(`${path}/stream`, signal);
  try {
    yield* ndjson(body, http.timeouts.streamSilenceMs, log);
  } catch (error) {
    if (signal.aborted || error instanceof StreamSilence) throw error;
    throw classifyNetworkError(error, false);
  } finally {
    body.on('error', () => {}).destroy();
  }
}
