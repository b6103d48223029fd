/**
 * Reading inference.sh answers (shared/specs/inference-sh-api.md §4, §13): the success envelopes of
 * every API version, the error shapes, and how long the server asks us to wait.
 */

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
