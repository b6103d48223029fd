import type { Dispatcher } from 'undici';
import type { Logger } from '../../log.js';
import { ComfyClient } from './http-client.js';
import type { PreflightReport } from './preflight.js';
import { type ComfyServerConfig, displayHost, normaliseUrl } from './server-url.js';
import { acquireSocket, type ComfySocket } from './socket.js';

/** One configured ComfyUI server: its HTTP client, its shared socket, and what the pool knows of it. */

export interface ServerOptions {
  clientId: string;
  requestTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  log: Logger;
  dispatcher?: Dispatcher;
}

export class ComfyServer {
  readonly url: string;
  readonly host: string;
  readonly client: ComfyClient;
  readonly socket: ComfySocket;
  report: PreflightReport | undefined;
  /** Submissions from this process not yet visible in the server's queue. */
  inflight = 0;
  checking: Promise<PreflightReport> | undefined;
  readonly release: () => void;

  constructor(config: ComfyServerConfig, options: ServerOptions) {
    this.url = normaliseUrl(config.url);
    this.host = displayHost(this.url);
    this.client = new ComfyClient({
      config: { ...config, url: this.url },
      timeoutMs: options.requestTimeoutMs,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    const held = acquireSocket({
      config: { ...config, url: this.url },
      clientId: options.clientId,
      reconnectMinMs: options.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs,
      log: options.log,
    });
    this.socket = held.socket;
    this.release = held.release;
  }
}
