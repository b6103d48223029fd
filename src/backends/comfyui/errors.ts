import { ConfigurationError, TransientError, UserFacingError } from '../../core/errors.js';
import type { Logger } from '../../log.js';

/**
 * ComfyUI's failures and what each means for the job: retry later (transient), fix the setup
 * (configuration), or tell the user (user-facing). The messages never carry a server's credentials.
 */

/** The server answered with a status that is not 2xx. */
export class ComfyHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly path: string,
  ) {
    super(`ComfyUI answered ${status} to ${path}`);
    this.name = 'ComfyHttpError';
  }
}

/** No answer at all (refused, reset, timed out). */
export class ComfyUnreachableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ComfyUnreachableError';
  }
}

/** The finished video is over the configured size limit; retrying changes nothing. */
export class OutputTooLargeError extends UserFacingError {
  constructor(readonly limit: number) {
    const size =
      limit >= 1024 * 1024 ? `${Math.round(limit / 1024 / 1024)} MiB` : `${Math.ceil(limit / 1024)} KiB`;
    super(`the finished video is larger than ${size}`);
    this.name = 'OutputTooLargeError';
  }
}

const OOM_MESSAGE = 'the GPU ran out of memory, try a lower resolution or fewer frames';

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
    return code ? `${error.message} (${String(code)})` : error.message;
  }
  return String(error);
}

/** A status worth asking again for: the server is busy, failing or slow, not refusing. */
export const isRetryableHttp = (error: unknown) =>
  error instanceof ComfyHttpError && (error.status >= 500 || error.status === 408 || error.status === 429);

const isRefusal = (error: unknown): error is ComfyHttpError =>
  error instanceof ComfyHttpError && !isRetryableHttp(error);

function summarise(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return (text ?? '').slice(0, 300);
}

/** A failed submission as the worker should see it: a server that is down or busy is retried later. */
export function submitFailure(error: unknown): unknown {
  if (error instanceof ComfyUnreachableError) {
    return new TransientError(`the GPU server does not answer (${error.message})`, undefined, {
      cause: error,
    });
  }
  if (isRetryableHttp(error)) {
    const status = (error as ComfyHttpError).status;
    return new TransientError(`the GPU server answered ${status}`, undefined, { cause: error });
  }
  return error;
}

/** A refused `POST /upload/image`; anything else is left to `submitFailure`. */
export function uploadFailure(error: unknown): unknown {
  if (error instanceof ComfyHttpError && error.status === 413) {
    return new UserFacingError('the image is too large for the GPU server', { cause: error });
  }
  if (isRefusal(error)) {
    return new ConfigurationError(
      `the GPU server refused the image upload (HTTP ${error.status}: ${summarise(error.body)})`,
      { cause: error },
    );
  }
  return error;
}

/**
 * The error to end a `POST /prompt` with when the server certainly refused the prompt, or undefined
 * when it may hold it after all (no answer, 5xx), which the caller must check before trying again.
 */
export function promptRefusal(error: unknown, host: string, log: Logger): ConfigurationError | undefined {
  if (error instanceof ComfyHttpError && error.status === 400) return validationError(error, host, log);
  if (isRefusal(error)) {
    return new ConfigurationError(
      `the GPU server refused the job (HTTP ${error.status}: ${summarise(error.body)}); check COMFYUI_URL and its proxy headers`,
      { cause: error },
    );
  }
  return undefined;
}

/** ComfyUI's validation answer (spec §3): a missing weights file is named, anything else summarised. */
function validationError(error: ComfyHttpError, host: string, log: Logger): ConfigurationError {
  const body = (error.body && typeof error.body === 'object' ? error.body : {}) as Record<string, unknown>;
  const top = (body.error && typeof body.error === 'object' ? body.error : {}) as Record<string, unknown>;
  const nodeErrors = (
    body.node_errors && typeof body.node_errors === 'object' ? body.node_errors : {}
  ) as Record<
    string,
    { class_type?: string; errors?: { type?: string; message?: string; details?: string }[] }
  >;
  log.error({ server: host, error: top, nodeErrors }, 'ComfyUI refused the workflow');
  const missing = new Set<string>();
  const lines: string[] = [];
  for (const [id, node] of Object.entries(nodeErrors)) {
    for (const entry of node?.errors ?? []) {
      if (entry.type === 'value_not_in_list' && /Loader/.test(node.class_type ?? '')) {
        missing.add(/'([^']+)' not in/.exec(entry.details ?? '')?.[1] ?? entry.details ?? 'unknown');
      }
      lines.push(
        `${node.class_type ?? 'node'} ${id}: ${entry.message ?? entry.type ?? 'invalid'}${entry.details ? ` (${entry.details})` : ''}`,
      );
    }
  }
  if (missing.size > 0) {
    return new ConfigurationError(
      `the GPU worker is missing model file${missing.size > 1 ? 's' : ''} ${[...missing].join(', ')}`,
      { cause: error },
    );
  }
  const head = typeof top.message === 'string' ? top.message : 'the workflow is invalid';
  const details = lines.length > 0 ? lines.join('; ') : typeof top.details === 'string' ? top.details : '';
  return new ConfigurationError(
    `the GPU worker rejected the workflow: ${head}${details ? `: ${details}` : ''}`,
    {
      cause: error,
    },
  );
}

/** An `execution_error` (socket event or history message) as the user's failure. */
export function executionError(data: Record<string, unknown>, log: Logger): UserFacingError {
  const type = typeof data.exception_type === 'string' ? data.exception_type : '';
  const message = typeof data.exception_message === 'string' ? data.exception_message : '';
  log.error(
    {
      exceptionType: type,
      exceptionMessage: message,
      nodeId: data.node_id,
      nodeType: data.node_type,
      traceback: data.traceback,
    },
    'ComfyUI execution error',
  );
  if (/OutOfMemory/i.test(type) || /out of memory/i.test(message)) return new UserFacingError(OOM_MESSAGE);
  const node = typeof data.node_type === 'string' ? ` (in ${data.node_type})` : '';
  return new UserFacingError(`the GPU server failed while rendering the video${node}`);
}

/** A failed `GET /view`: a size overrun stays as it is, a server that refuses is a setup problem. */
export function downloadFailure(error: unknown): unknown {
  if (error instanceof OutputTooLargeError) return error;
  if (error instanceof ComfyHttpError && error.status === 404) {
    return new UserFacingError('the finished video is no longer on the GPU server', { cause: error });
  }
  if (isRefusal(error)) {
    return new ConfigurationError(`the GPU server refused the download (HTTP ${error.status})`, {
      cause: error,
    });
  }
  return new TransientError(
    `could not download the video from the GPU server (${describe(error)})`,
    undefined,
    {
      cause: error,
    },
  );
}
