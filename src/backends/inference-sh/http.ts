import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, request } from 'undici';
import { AmbiguousSubmitError, TransientError } from '../../core/errors.js';
import { type Logger, redactText } from '../../log.js';
import { InferenceApiError, parseErrorBody, parseSuccessBody } from './envelope.js';
import { classifyNetworkError, NetworkError } from './network-error.js';

/**
 * The transport half of the inference.sh client (shared/specs/inference-sh-api.md §1, §4, §12-§13):
 * authenticated JSON calls and the retry rules, with answers read by envelope.ts. No SDK.
 */

export interface InferenceTimeouts {
  /** TCP/TLS connect. */
  connectMs: number;
  /** A whole JSON call, headers and body. */
  jsonMs: number;
  /** No NDJSON line (heartbeats included) for this long means the stream is dead. */
  streamSilenceMs: number;
  /** Downloads and uploads, whatever the size (at least 120 s in production). */
  downloadMs: number;
}

export interface RetryPolicy {
  /** Attempts per call, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
  /** A server asking for a longer wait than this is not waited for: the job is retried later instead. */
  maxWaitMs: number;
}

export type CallMode =
  /** Idempotent: retry network errors, 429 and 5xx (§13). */
  | 'idempotent'
  /** `POST /apps/run`: retry only when nothing reached the server, or on 429; else ambiguous (§13-§14). */
  | 'run'
  /** No retry at all; the caller decides (stream opening, polling). */
  | 'once';

export interface HttpOptions {
  apiUrl: string;
  apiKey: string;
  dispatcher: Dispatcher;
  timeouts: InferenceTimeouts;
  retry: RetryPolicy;
  userAgent: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const abortReason = (signal: AbortSignal) =>
  signal.reason instanceof Error ? signal.reason : new Error('aborted', { cause: signal.reason });

export class InferenceHttp {
  readonly origin: URL;

  constructor(private readonly options: HttpOptions) {
    this.origin = new URL(options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`);
  }

  get timeouts(): InferenceTimeouts {
    return this.options.timeouts;
  }

  get retry(): RetryPolicy {
    return this.options.retry;
  }

  url(path: string): string {
    return new URL(path.replace(/^\//, ''), this.origin).toString();
  }

  /** Masks the key (and anything key-shaped) in text that may reach users or logs. */
  scrub(text: string): string {
    const key = this.options.apiKey;
    return redactText(key ? text.split(key).join('[redacted]') : text);
  }

  /** Exponential backoff with jitter, or the wait the server asked for. */
  backoffMs(attempt: number, serverWait?: number, policy: { baseMs: number; maxMs: number } = this.retry) {
    if (serverWait !== undefined) return serverWait;
    const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(exp / 2 + (Math.random() * exp) / 2);
  }

  /** One HTTP exchange with the body read in full, bounded by `timeoutMs`. Throws NetworkError or the abort. */
  async send(
    method: Dispatcher.HttpMethod,
    url: string,
    init: {
      headers?: Record<string, string>;
      body?: string | Buffer;
      signal?: AbortSignal;
      timeoutMs?: number;
      auth?: boolean;
    } = {},
  ): Promise<RawResponse> {
    const timeoutMs = init.timeoutMs ?? this.options.timeouts.jsonMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const headers: Record<string, string> = { 'user-agent': this.options.userAgent, ...init.headers };
    if (init.auth !== false) headers.authorization = `Bearer ${this.options.apiKey}`;
    try {
      const res = await request(url, {
        method,
        headers,
        body: init.body,
        signal,
        dispatcher: this.options.dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, text };
    } catch (error) {
      if (init.signal?.aborted) throw abortReason(init.signal);
      throw classifyNetworkError(error, timeout.aborted);
    }
  }

  /**
   * A JSON call to the API, with the envelope unwrapped. Non-retryable answers throw
   * InferenceApiError; exhausted transient failures throw TransientError; an unsure run throws
   * AmbiguousSubmitError.
   */
  async json<T = unknown>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    init: { body?: unknown; emptyBody?: boolean; signal?: AbortSignal; mode: CallMode; log?: Logger },
  ): Promise<T> {
    const what = `${method} ${path.split('?')[0]}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] = 'application/json';
    } else if (init.emptyBody) {
      body = '';
    }
    const attempts = init.mode === 'once' ? 1 : Math.max(1, this.retry.attempts);
    const run = init.mode === 'run';
    // A run request, once sent, is never tied to the signal: its answer (the task id) must come back.
    // The signal only ends the waits between attempts, when no request is in flight (§13-§14).
    const sendSignal = run ? undefined : init.signal;
    const wait = async (ms: number) => {
      try {
        await sleep(ms, undefined, init.signal ? { signal: init.signal } : undefined);
      } catch (error) {
        if (init.signal?.aborted) throw abortReason(init.signal);
        throw error;
      }
    };
    let last: InferenceApiError | NetworkError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      // Nothing is in flight here, so stopping now cannot leave a task behind.
      if (run && init.signal?.aborted) throw abortReason(init.signal);
      let res: RawResponse;
      try {
        res = await this.send(method, this.url(path), {
          headers,
          body,
          ...(sendSignal ? { signal: sendSignal } : {}),
        });
      } catch (error) {
        if (!(error instanceof NetworkError)) throw error;
        if (run && !error.neverSent) {
          throw new AmbiguousSubmitError(
            `inference.sh did not answer the run request (${this.scrub(error.message)}); a task may have been started and billed, so it was not sent again`,
            { cause: error },
          );
        }
        last = error;
        init.log?.warn(
          { call: what, attempt, code: error.code },
          'inference.sh call failed at the network level',
        );
        if (attempt < attempts) await wait(this.backoffMs(attempt));
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        let parsed: ReturnType<typeof parseSuccessBody>;
        try {
          parsed = parseSuccessBody(res.status, res.text);
        } catch (error) {
          // The server accepted the run (2xx) but its answer cannot be read, or carries a body-level
          // error: a task may exist and be billed, and nothing tells its id. Never send it again.
          if (run) {
            const detail = error instanceof InferenceApiError ? error.detail : String(error);
            throw new AmbiguousSubmitError(
              `inference.sh answered the run request with HTTP ${res.status} but the answer could not be read (${this.scrub(detail).slice(0, 200)}); a task may have been started and billed, so it was not sent again`,
              { cause: error },
            );
          }
          throw error;
        }
        for (const m of parsed.messages) init.log?.info({ call: what, service: m }, 'inference.sh message');
        return parsed.payload as T;
      }
      const error = parseErrorBody(res.status, res.text, res.headers);
      const retryable = res.status === 429 || (res.status >= 500 && !run);
      if (res.status >= 500 && run) {
        throw new AmbiguousSubmitError(
          `inference.sh answered the run request with HTTP ${res.status} (${this.scrub(error.detail)}); a task may have been started and billed, so it was not sent again`,
          { cause: error },
        );
      }
      if (!retryable) throw error;
      last = error;
      init.log?.warn({ call: what, attempt, status: res.status }, 'inference.sh call will be retried');
      if (attempt >= attempts) break;
      const waitMs = this.backoffMs(attempt, error.retryAfterMs);
      if (waitMs > this.retry.maxWaitMs) break;
      await wait(waitMs);
    }
    throw this.exhausted(what, last, attempts);
  }

  /**
   * Opens `GET {path}` as a long-lived NDJSON stream. Only the wait for headers is bounded here; the
   * caller watches for silence. Non-2xx answers throw (429 and 5xx as TransientError).
   */
  async openStream(path: string, signal: AbortSignal): Promise<Dispatcher.ResponseData['body']> {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.url(path), {
        method: 'GET',
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: 'application/x-ndjson',
          'user-agent': this.options.userAgent,
        },
        signal,
        dispatcher: this.options.dispatcher,
        // Waiting for the answer counts as silence too.
        headersTimeout: Math.min(this.options.timeouts.jsonMs, this.options.timeouts.streamSilenceMs),
        bodyTimeout: 0,
      });
    } catch (error) {
      if (signal.aborted) throw abortReason(signal);
      throw classifyNetworkError(error, false);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const text = await res.body.text().catch(() => '');
      const error = parseErrorBody(res.statusCode, text, res.headers);
      if (error.status === 429 || error.status >= 500) {
        throw new TransientError(this.scrub(error.message), error.retryAfterMs, { cause: error });
      }
      throw error;
    }
    return res.body;
  }

  exhausted(
    what: string,
    last: InferenceApiError | NetworkError | undefined,
    attempts: number,
  ): TransientError {
    if (last instanceof InferenceApiError && last.status === 429) {
      return new TransientError(
        `inference.sh is rate limiting this API key (${what}, HTTP 429); the job will be retried later`,
        last.retryAfterMs,
        { cause: last },
      );
    }
    const reason =
      last instanceof InferenceApiError
        ? `HTTP ${last.status}: ${this.scrub(last.detail)}`
        : last
          ? this.scrub(last.message)
          : 'no answer';
    return new TransientError(
      `inference.sh is not reachable or failing (${what}, ${reason}) after ${attempts} attempt${attempts === 1 ? '' : 's'}; the job will be retried later`,
      last instanceof InferenceApiError ? last.retryAfterMs : undefined,
      { cause: last },
    );
  }
}
