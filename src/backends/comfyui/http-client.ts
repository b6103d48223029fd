import { type Dispatcher, FormData, request } from 'undici';
import { type BoundedBody, boundedBody } from '../../media/bounded-body.js';
import { ComfyHttpError, ComfyUnreachableError, describe, OutputTooLargeError } from './errors.js';
import type { ComfyGraph } from './nodes.js';
import type { ComfyFileRef } from './outputs.js';
import { type ComfyServerConfig, displayHost, normaliseUrl } from './server-url.js';

/**
 * The HTTP API of one ComfyUI server (shared/specs/comfyui-api.md §2–§5). It sends no `Origin`
 * header (the server's loopback origin check would refuse it) and adds the configured extra headers,
 * e.g. `Authorization` for a reverse proxy, on every request.
 */

/** `[number, prompt_id, graph, extra_data, outputs_to_execute]`. */
export type QueueItem = [number, string, unknown, unknown, unknown];
export interface QueueState {
  running: QueueItem[];
  pending: QueueItem[];
}

export interface HistoryItem {
  prompt?: unknown;
  outputs?: Record<string, unknown>;
  status?: {
    status_str?: string;
    completed?: boolean;
    messages?: [string, Record<string, unknown>][];
  };
}

export interface PromptAccepted {
  prompt_id: string;
  number: number;
  node_errors: Record<string, unknown>;
}

export interface ClientOptions {
  config: ComfyServerConfig;
  dispatcher?: Dispatcher;
  timeoutMs: number;
}

interface CallOptions {
  json?: unknown;
  form?: FormData;
  query?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

const combine = (signal: AbortSignal | undefined, timeoutMs: number) =>
  signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);

export class ComfyClient {
  readonly url: string;
  readonly host: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly options: ClientOptions) {
    this.url = normaliseUrl(options.config.url);
    this.host = displayHost(this.url);
    this.headers = { ...(options.config.headers ?? {}) };
  }

  get extraHeaders(): Readonly<Record<string, string>> {
    return this.headers;
  }

  private target(path: string, query?: Record<string, string>) {
    const search = query ? `?${new URLSearchParams(query).toString()}` : '';
    return `${this.url}${path}${search}`;
  }

  /**
   * Sends one request; a failure to get any answer becomes ComfyUnreachableError. `timeoutMs` bounds
   * the whole exchange, `idleTimeoutMs` each wait for headers or the next body chunk.
   */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    init: { headers: Record<string, string>; body?: string | FormData; query?: Record<string, string> },
    signal: AbortSignal | undefined,
    timeouts: { timeoutMs: number; idleTimeoutMs: number },
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await request(this.target(path, init.query), {
        method,
        headers: init.headers,
        body: init.body,
        signal: combine(signal, timeouts.timeoutMs),
        headersTimeout: timeouts.idleTimeoutMs,
        bodyTimeout: timeouts.idleTimeoutMs,
        ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      throw new ComfyUnreachableError(
        `ComfyUI at ${this.host} did not answer ${method} ${path}: ${describe(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  private async call(method: 'GET' | 'POST', path: string, options: CallOptions = {}) {
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const headers: Record<string, string> = { ...this.headers, accept: 'application/json' };
    let body: string | FormData | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.form) {
      body = options.form;
    }
    const response = await this.send(
      method,
      path,
      { headers, body, ...(options.query ? { query: options.query } : {}) },
      options.signal,
      { timeoutMs, idleTimeoutMs: timeoutMs },
    );
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      throw new ComfyUnreachableError(
        `ComfyUI at ${this.host} broke off ${method} ${path}: ${describe(error)}`,
        {
          cause: error,
        },
      );
    }
    let parsed: unknown = text;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new ComfyHttpError(response.statusCode, parsed, path);
    }
    return parsed;
  }

  systemStats(signal?: AbortSignal, timeoutMs?: number) {
    return this.call('GET', '/system_stats', { signal, timeoutMs }) as Promise<Record<string, unknown>>;
  }

  async objectInfo(
    classType: string,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>> {
    const body = await this.call('GET', `/object_info/${encodeURIComponent(classType)}`, {
      signal,
      timeoutMs,
    });
    return body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  }

  async models(folder: string, signal?: AbortSignal, timeoutMs?: number): Promise<string[]> {
    const body = await this.call('GET', `/models/${encodeURIComponent(folder)}`, { signal, timeoutMs });
    return Array.isArray(body) ? body.filter((name): name is string => typeof name === 'string') : [];
  }

  async queue(signal?: AbortSignal, timeoutMs?: number): Promise<QueueState> {
    const body = (await this.call('GET', '/queue', { signal, timeoutMs })) as Record<string, unknown>;
    const list = (value: unknown) =>
      Array.isArray(value) ? (value.filter(Array.isArray) as QueueItem[]) : [];
    return { running: list(body?.queue_running), pending: list(body?.queue_pending) };
  }

  /** The finished prompt's entry, or undefined while it is queued, running or unknown. */
  async history(promptId: string, signal?: AbortSignal): Promise<HistoryItem | undefined> {
    const body = await this.call('GET', `/history/${encodeURIComponent(promptId)}`, { signal });
    if (!body || typeof body !== 'object') return undefined;
    const item = (body as Record<string, unknown>)[promptId];
    return item && typeof item === 'object' ? (item as HistoryItem) : undefined;
  }

  async submitPrompt(
    graph: ComfyGraph,
    promptId: string,
    clientId: string,
    signal?: AbortSignal,
  ): Promise<PromptAccepted> {
    const body = await this.call('POST', '/prompt', {
      json: { prompt: graph, client_id: clientId, prompt_id: promptId, extra_data: {} },
      signal,
    });
    return body as PromptAccepted;
  }

  async uploadImage(
    image: { bytes: Buffer; filename: string; contentType: string },
    subfolder: string,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<{ name: string; subfolder: string; type: string }> {
    const form = new FormData();
    form.set('image', new Blob([new Uint8Array(image.bytes)], { type: image.contentType }), image.filename);
    form.set('type', 'input');
    form.set('subfolder', subfolder);
    form.set('overwrite', 'true');
    const body = (await this.call('POST', '/upload/image', { form, signal, timeoutMs })) as Record<
      string,
      unknown
    >;
    return {
      name: typeof body?.name === 'string' ? body.name : image.filename,
      subfolder: typeof body?.subfolder === 'string' ? body.subfolder : subfolder,
      type: typeof body?.type === 'string' ? body.type : 'input',
    };
  }

  /** Removes pending prompts; a no-op for running or unknown ids. */
  async deleteQueued(promptIds: string[], signal?: AbortSignal): Promise<void> {
    await this.call('POST', '/queue', { json: { delete: promptIds }, signal });
  }

  /** Interrupts the prompt only if it is the one running (servers from 0.3.6x on). */
  async interrupt(promptId: string, signal?: AbortSignal): Promise<void> {
    await this.call('POST', '/interrupt', { json: { prompt_id: promptId }, signal });
  }

  async deleteHistory(promptIds: string[], signal?: AbortSignal): Promise<void> {
    await this.call('POST', '/history', { json: { delete: promptIds }, signal });
  }

  /**
   * Opens an output file. The stream fails with OutputTooLargeError once it grows past `maxBytes`
   * (at once when the declared length is over it), and the whole download ends after `timeoutMs`.
   */
  async view(
    file: ComfyFileRef,
    options: { signal?: AbortSignal; timeoutMs: number; maxBytes: number },
  ): Promise<BoundedBody> {
    const path = '/view';
    const query = { filename: file.filename, subfolder: file.subfolder, type: file.type };
    const response = await this.send(
      'GET',
      path,
      { headers: { ...this.headers }, query },
      options.signal,
      // A long download may take minutes; only a stall of the usual request timeout ends it early.
      { timeoutMs: options.timeoutMs, idleTimeoutMs: this.options.timeoutMs },
    );
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => '');
      throw new ComfyHttpError(response.statusCode, text, path);
    }
    return boundedBody(response, {
      maxBytes: options.maxBytes,
      tooLarge: () => new OutputTooLargeError(options.maxBytes),
    });
  }
}
