import { setTimeout as sleep } from 'node:timers/promises';
import type { RemoteTaskRef } from '../../core/job.js';
import type { Logger } from '../../log.js';
import { InferenceApiError } from './envelope.js';
import type { ErrorTranslator } from './errors.js';
import type { InferenceHttp } from './http.js';
import { isTerminal, StatusReader, type Task } from './task.js';

/**
 * Stopping a task (shared/specs/inference-sh-api.md §9): ask for the cancel, then watch the task
 * until it says it stopped, for a bounded time, since the cancel answer alone proves nothing.
 */

export interface CancelTiming {
  /** How long to wait for a terminal status. */
  waitMs: number;
  /** How often to look. */
  pollMs: number;
}

export class TaskCanceller {
  constructor(
    private readonly context: { http: Pick<InferenceHttp, 'json'>; errors: ErrorTranslator },
    private readonly timing: CancelTiming,
  ) {}

  async cancel(ref: RemoteTaskRef, log: Logger): Promise<void> {
    const { http, errors } = this.context;
    const taskId = ref.taskId;
    if (!taskId) {
      log.warn('no inference.sh task id is known, so there is nothing to cancel');
      return;
    }
    const path = `/tasks/${encodeURIComponent(taskId)}`;
    try {
      await http.json('POST', `${path}/cancel`, { emptyBody: true, mode: 'idempotent', log });
    } catch (error) {
      // The answer for a finished task is unconfirmed (§9): on a 4xx look at the task itself.
      if (error instanceof InferenceApiError && [401, 403].includes(error.status))
        throw errors.translate(error, { taskId });
      if (error instanceof InferenceApiError && error.status === 404) {
        log.warn({ taskId }, 'inference.sh does not know the task any more; nothing to cancel');
        return;
      }
      log.warn({ taskId, err: error }, 'the cancel request failed; checking the task');
    }
    const reader = new StatusReader();
    const deadline = Date.now() + this.timing.waitMs;
    const interval = this.timing.pollMs;
    for (;;) {
      try {
        const task = await http.json<Task>('GET', path, { mode: 'once', log });
        const status = reader.read(task ?? {});
        if (isTerminal(status)) {
          log.info({ taskId, status }, 'inference.sh task stopped');
          return;
        }
      } catch (error) {
        if (error instanceof InferenceApiError && [401, 403, 404].includes(error.status)) {
          log.warn({ taskId, status: error.status }, 'cannot see the task after cancelling');
          return;
        }
        log.warn({ taskId, err: error }, 'checking the cancelled task failed');
      }
      if (Date.now() + interval > deadline) {
        log.warn({ taskId }, 'inference.sh did not confirm the cancel in time');
        return;
      }
      await sleep(interval);
    }
  }
}
