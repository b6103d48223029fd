import { pipeline, type Readable, Transform } from 'node:stream';
import { type Dispatcher, FormData, request, WebSocket } from 'undici';
import { UserFacingError } from '../../core/errors.js';
import type { Logger } from '../../log.js';
import type { ComfyFileRef, ComfyGraph } from './workflow.js';

/**
 * HTTP and WebSocket client for one ComfyUI server (shared/specs/comfyui-api.md §2–§6). It sends no
 * `Origin` header (the server's loopback origin check would refuse it) and adds the configured extra
 * headers, e.g. `Authorization` for a reverse proxy, on every request and on the WebSocket upgrade.
 */

export interface ComfyServerConfig {
  /** Base URL, e.g. `http://gpu1:8188` (a path prefix such as `/api` is kept). */
  url: string;
  /** Extra headers for this server (reverse-proxy auth). Never logged. */
  headers?: Record<string, string>;
}

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

export const normaliseUrl = (url: string) => url.trim().replace(/\/+$/, '');

/** `host:port` of a URL without credentials, for messages. */
export function displayHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
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
    let response: Dispatcher.ResponseData;
    try {
      response = await request(this.target(path, options.query), {
        method,
        headers,
        body,
        signal: combine(options.signal, timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      throw new ComfyUnreachableError(
        `ComfyUI at ${this.host} did not answer ${method} ${path}: ${describe(error)}`,
        {
          cause: error,
        },
      );
    }
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
   * Opens an output file. The stream fails if it grows past `maxBytes` or outlives `timeoutMs`.
   */
  async view(
    file: ComfyFileRef,
    options: { signal?: AbortSignal; timeoutMs: number; maxBytes: number },
  ): Promise<{ stream: Readable; bytes?: number; contentType?: string; status: number }> {
    const path = '/view';
    const query = { filename: file.filename, subfolder: file.subfolder, type: file.type };
    let response: Dispatcher.ResponseData;
    try {
      response = await request(this.target(path, query), {
        method: 'GET',
        headers: { ...this.headers },
        signal: combine(options.signal, options.timeoutMs),
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      throw new ComfyUnreachableError(
        `ComfyUI at ${this.host} did not answer GET /view: ${describe(error)}`,
        {
          cause: error,
        },
      );
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => '');
      throw new ComfyHttpError(response.statusCode, text, path);
    }
    const header = (name: string) => {
      const value = response.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const length = Number(header('content-length'));
    const bytes = Number.isFinite(length) && length >= 0 ? length : undefined;
    if (bytes !== undefined && bytes > options.maxBytes) {
      response.body.destroy();
      throw new OutputTooLargeError(options.maxBytes);
    }
    let seen = 0;
    const limiter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen += chunk.length;
        if (seen > options.maxBytes) callback(new OutputTooLargeError(options.maxBytes));
        else callback(null, chunk);
      },
    });
    pipeline(response.body, limiter, () => {
      // Errors reach the consumer through `limiter`; nothing else to do here.
    });
    const contentType = header('content-type');
    return {
      stream: limiter,
      status: response.statusCode,
      ...(bytes !== undefined ? { bytes } : {}),
      ...(contentType ? { contentType: contentType.split(';')[0]!.trim() } : {}),
    };
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

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
    return code ? `${error.message} (${String(code)})` : error.message;
  }
  return String(error);
}

// ---------------------------------------------------------------------------------------------
// WebSocket

export interface ComfyMessage {
  type: string;
  data: Record<string, unknown>;
}

export type SocketEvent = { kind: 'message'; message: ComfyMessage } | { kind: 'open' } | { kind: 'close' };

export interface SocketOptions {
  config: ComfyServerConfig;
  clientId: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  log: Logger;
}

const TERMINAL = new Set(['execution_success', 'execution_error', 'execution_interrupted']);

/**
 * The one WebSocket per server and process (spec §6.1, §8): reconnects with backoff (doubling from
 * `reconnectMinMs` to `reconnectMaxMs`, with jitter), closes the old socket first, ignores binary
 * frames, and fills in the prompt id of events older servers send without one.
 */
export class ComfySocket {
  private ws: WebSocket | undefined;
  private readonly listeners = new Set<(event: SocketEvent) => void>();
  private readonly openWaiters = new Set<() => void>();
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private open = false;
  private opens = 0;
  private lastMessage = 0;
  /** The prompt this client saw start and not yet end, for events that lack `prompt_id`. */
  private executing: string | undefined;
  private readonly wsUrl: string;

  constructor(private readonly options: SocketOptions) {
    this.delay = options.reconnectMinMs;
    const base = new URL(normaliseUrl(options.config.url));
    base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    base.pathname = `${base.pathname.replace(/\/+$/, '')}/ws`;
    base.search = `?clientId=${encodeURIComponent(options.clientId)}`;
    this.wsUrl = base.toString();
  }

  get connected(): boolean {
    return this.open;
  }

  /** Counts successful connections: a change means events may have been missed in between. */
  get generation(): number {
    return this.opens;
  }

  /** Epoch ms of the last frame received (text or binary), or of the open or reconnect. */
  get lastMessageAt(): number {
    return this.lastMessage;
  }

  /**
   * Drops the connection and opens a new one after the usual backoff. For a socket that looks open
   * but has gone silent: after a GPU host crash the TCP connection stays half-open and no close ever
   * arrives. The pause before reconnecting also lets the server finish closing the old socket, whose
   * cleanup would otherwise unregister the new one under the same client id (spec §6.1).
   */
  reconnect(reason: string) {
    if (this.stopped || !this.ws) return;
    this.lastMessage = Date.now();
    this.options.log.warn(
      { server: displayHost(this.options.config.url), reason },
      'reconnecting the ComfyUI socket',
    );
    this.drop();
    this.schedule();
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  close() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.drop();
    for (const wake of this.openWaiters) wake();
    this.openWaiters.clear();
  }

  subscribe(listener: (event: SocketEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves true once connected, false after `timeoutMs` or when stopped. */
  waitOpen(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.open) return Promise.resolve(true);
    if (this.stopped || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.openWaiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve(this.open);
      };
      const timer = setTimeout(done, timeoutMs);
      this.openWaiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private emit(event: SocketEvent) {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.options.log.warn({ err: error }, 'ComfyUI socket listener failed');
      }
    }
  }

  private drop() {
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = null;
      try {
        ws.close();
      } catch {
        // already closed
      }
    }
    if (this.open) {
      this.open = false;
      this.emit({ kind: 'close' });
    }
  }

  private connect() {
    if (this.stopped) return;
    this.drop();
    let ws: WebSocket;
    try {
      const headers = this.options.config.headers;
      ws = new WebSocket(this.wsUrl, headers && Object.keys(headers).length > 0 ? { headers } : undefined);
    } catch (error) {
      this.options.log.warn(
        { err: error, server: displayHost(this.options.config.url) },
        'cannot open ComfyUI socket',
      );
      this.schedule();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.open = true;
      this.opens += 1;
      this.lastMessage = Date.now();
      this.delay = this.options.reconnectMinMs;
      this.options.log.debug({ server: displayHost(this.options.config.url) }, 'ComfyUI socket open');
      for (const wake of [...this.openWaiters]) wake();
      this.emit({ kind: 'open' });
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      this.lastMessage = Date.now();
      if (typeof event.data !== 'string') return; // binary previews are ignored
      let message: ComfyMessage;
      try {
        const parsed = JSON.parse(event.data) as { type?: unknown; data?: unknown };
        if (typeof parsed.type !== 'string') return;
        message = {
          type: parsed.type,
          data:
            parsed.data && typeof parsed.data === 'object' ? (parsed.data as Record<string, unknown>) : {},
        };
      } catch {
        return;
      }
      this.track(message);
      this.emit({ kind: 'message', message });
    };
    const lost = () => {
      if (this.ws !== ws) return;
      this.drop();
      this.schedule();
    };
    ws.onclose = lost;
    ws.onerror = lost;
  }

  private track(message: ComfyMessage) {
    const promptId = typeof message.data.prompt_id === 'string' ? message.data.prompt_id : undefined;
    if (message.type === 'execution_start' && promptId) this.executing = promptId;
    else if (TERMINAL.has(message.type) && promptId === this.executing) this.executing = undefined;
    else if (message.type === 'executing' && message.data.node === null && promptId === this.executing) {
      this.executing = undefined;
    }
    // Older servers (and the reconnect notice) omit the prompt id: attribute to the running prompt.
    if (!promptId && this.executing && (message.type === 'progress' || message.type === 'executing')) {
      message.data = { ...message.data, prompt_id: this.executing };
    }
  }

  private schedule() {
    if (this.stopped || this.timer) return;
    const jitter = 0.75 + Math.random() * 0.5;
    const wait = Math.round(this.delay * jitter);
    this.delay = Math.min(this.options.reconnectMaxMs, this.delay * 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, wait);
    this.timer.unref();
  }
}

interface HubEntry {
  socket: ComfySocket;
  users: number;
}
const hub = new Map<string, HubEntry>();

/**
 * One socket per server and client id in the whole process: ComfyUI keeps one socket per client
 * id, so two sockets with the same id would steal each other's events (spec §6.1).
 */
export function acquireSocket(options: SocketOptions): { socket: ComfySocket; release: () => void } {
  const key = `${normaliseUrl(options.config.url)}|${options.clientId}`;
  let entry = hub.get(key);
  if (!entry) {
    entry = { socket: new ComfySocket(options), users: 0 };
    hub.set(key, entry);
  }
  entry.users += 1;
  const held = entry;
  let released = false;
  return {
    socket: held.socket,
    release: () => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users <= 0) {
        held.socket.close();
        if (hub.get(key) === held) hub.delete(key);
      }
    },
  };
}
