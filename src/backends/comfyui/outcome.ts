import { CancelledError, ConfigurationError, UserFacingError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import { executionError } from './errors.js';
import type { HistoryItem } from './http-client.js';
import { type ComfyFileRef, pickVideoOutput } from './outputs.js';

/** What a finished prompt's history entry says (spec §4): the video, or why there is none. */

export interface RenderedVideo {
  file: ComfyFileRef;
  /** The render time by the server's own clock, when its history has both timestamps. */
  durationMs?: number;
}

/** The video of a prompt that succeeded; throws the job's error for one that did not. */
export function readOutcome(item: HistoryItem, log: Logger): RenderedVideo {
  const status = item.status ?? {};
  const messages = Array.isArray(status.messages) ? status.messages : [];
  const message = (type: string) =>
    messages.findLast((entry) => Array.isArray(entry) && entry[0] === type)?.[1];
  const succeeded =
    status.status_str === 'success' || (status.completed === true && status.status_str !== 'error');
  if (!succeeded) {
    const lastEnd = messages.findLast(
      (entry) =>
        Array.isArray(entry) && (entry[0] === 'execution_error' || entry[0] === 'execution_interrupted'),
    );
    if (lastEnd?.[0] === 'execution_interrupted') throw new CancelledError();
    if (lastEnd?.[0] === 'execution_error') throw executionError(lastEnd[1] ?? {}, log);
    log.error({ status }, 'ComfyUI ended the prompt without success and without an error message');
    throw new UserFacingError('the GPU server stopped the job without a result');
  }
  const file = pickVideoOutput(item.outputs);
  if (!file) {
    log.error({ outputs: item.outputs }, 'ComfyUI history has no video output');
    throw new ConfigurationError(
      'the ComfyUI workflow finished without a video output; it must end in SaveVideo or another video save node',
    );
  }
  const started = message('execution_start')?.timestamp;
  const ended = message('execution_success')?.timestamp;
  return {
    file,
    ...(typeof started === 'number' && typeof ended === 'number' ? { durationMs: ended - started } : {}),
  };
}
