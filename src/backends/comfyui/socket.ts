import { WebSocket } from 'undici';
import type { Logger } from '../../log.js';
import { type ComfyServerConfig, displayHost, normaliseUrl } from './server-url.js';

/**
 * The WebSocket of one ComfyUI server (shared/specs/comfyui-api.md §6): progress and execution
 * events for every prompt this client id submitted. Sent with the configured extra headers on the
 * upgrade, and without an `Origin` header.
 */

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
