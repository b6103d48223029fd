import { setTimeout as sleep } from 'node:timers/promises';
import { type Dispatcher, request } from 'undici';
import { AmbiguousSubmitError, TransientError } from '../../core/errors.js';
import { type Logger, redactText } from '../../log.js';

/**
 * The transport half of the inference.sh client (shared/specs/inference-sh-api.md §1, §4, §12-§13):
 * authenticated JSON calls, the defensive envelope and error parsing, and the retry rules. No SDK.
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

/** One entry of a 412 answer (§4): a missing secret, integration or scope. */
export interface Requirement {
  type?: string;
  key?: string;
  message?: string;
  action?: unknown;
}

/** `messages[]` of the current envelope: informational. */
export interface ServiceMessage {
  level?: string;
  code?: string;
  message?: string;
}

/** A non-2xx answer, parsed by the rule of §4. Callers turn it into one of src/core/errors.ts. */
export class InferenceApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly requirements: Requirement[] = [],
    readonly retryAfterMs?: number,
  ) {
    super(`inference.sh answered HTTP ${status} (${code}): ${detail}`);
    this.name = 'InferenceApiError';
  }
}

/** A transport failure: no HTTP answer at all. */
export class NetworkError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** True only when the request certainly never reached the server (DNS, refused, connect/TLS failure). */
    readonly neverSent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

/** Error codes after which the request certainly never reached the server (§13). */
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);

function errorCodes(error: unknown, depth = 0): string[] {
  if (!error || typeof error !== 'object' || depth > 4) return [];
  const e = error as { code?: unknown; cause?: unknown; errors?: unknown };
  const codes = typeof e.code === 'string' ? [e.code] : [];
  codes.push(...errorCodes(e.cause, depth + 1));
  if (Array.isArray(e.errors)) for (const inner of e.errors) codes.push(...errorCodes(inner, depth + 1));
  return codes;
}

/** Classifies a thrown transport error; `timedOut` marks our own whole-call timeout. */
export function classifyNetworkError(error: unknown, timedOut: boolean): NetworkError {
  if (timedOut) return new NetworkError('the request timed out', 'TIMEOUT', false, { cause: error });
  const codes = errorCodes(error);
  const code = codes[0] ?? 'UNKNOWN';
  const neverSent =
    codes.length > 0 && codes.every((c) => NEVER_SENT.has(c) || c.startsWith('ERR_SSL_') || c === 'EPROTO');
  const message = error instanceof Error ? error.message : String(error);
  return new NetworkError(`${message || code} (${code})`, code, neverSent, { cause: error });
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The payload of a 2xx body (§4 rule 1): `body.data` when the body is an object with `data`, else the body. */
export function unwrapEnvelope(body: unknown): unknown {
  if (isObject(body) && 'data' in body) return body.data;
  return body;
}

/** Milliseconds the server asks us to wait: `Retry-After` first, then `X-RateLimit-Reset` (§13). */
export function serverWaitMs(headers: Record<string, string | string[] | undefined>, now = Date.now()) {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const retryAfter = header('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.max(0, Number(retryAfter) * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = header('x-ratelimit-reset')?.trim();
  if (reset && /^\d+(\.\d+)?$/.test(reset)) {
    const value = Number(reset);
    // The documented example looks like a Unix time; accept ms and s epochs and plain deltas.
    if (value > 1e12) return Math.max(0, value - now);
    if (value > 1e9) return Math.max(0, value * 1000 - now);
    return value * 1000;
  }
  if (reset) {
    const date = Date.parse(reset);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return undefined;
}

/** Parses any non-2xx body by §4 rule 2. */
export function parseErrorBody(
  status: number,
  text: string,
  headers: Record<string, string | string[] | undefined> = {},
): InferenceApiError {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const obj = isObject(body) ? body : {};
  const nested = isObject(obj.error) ? obj.error : {};
  const pick = (...values: unknown[]) =>
    values.find((v): v is string => typeof v === 'string' && v.trim() !== '');
  const message =
    pick(
      obj.detail,
      obj.title,
      obj.message,
      nested.message,
      typeof obj.error === 'string' ? obj.error : '',
    ) ??
    (text.trim().slice(0, 500) || `HTTP ${status}`);
  const typeCode =
    typeof obj.type === 'string' && obj.type.includes('/')
      ? obj.type.split('/').filter(Boolean).pop()
      : undefined;
  const code = typeCode ?? pick(nested.code, obj.code) ?? String(status);
  const requirements = Array.isArray(obj.errors) ? (obj.errors.filter(isObject) as Requirement[]) : [];
  return new InferenceApiError(status, code, message, requirements, serverWaitMs(headers));
}

/** Parses a 2xx body; a v1 body saying `success: false` is an error whatever the HTTP status. */
export function parseSuccessBody(
  status: number,
  text: string,
): { payload: unknown; messages: ServiceMessage[] } {
  if (status === 204 || text.trim() === '') return { payload: undefined, messages: [] };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InferenceApiError(status, 'invalid_json', `unreadable answer: ${text.slice(0, 200)}`);
  }
  if (isObject(body) && body.success === false) {
    const code = typeof body.status === 'number' && body.status >= 400 ? body.status : 500;
    throw parseErrorBody(code, text);
  }
  const messages = isObject(body) && Array.isArray(body.messages) ? (body.messages as ServiceMessage[]) : [];
  return { payload: unwrapEnvelope(body), messages };
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
        headersTimeout: this.options.timeouts.jsonMs,
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
