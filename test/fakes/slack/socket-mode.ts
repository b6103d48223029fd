import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { JsonObject, SocketConnectionInfo, SocketEnvelopeRecord } from './types.js';

/**
 * The Socket Mode side of the fake, modelled on what @slack/socket-mode 3.x expects
 * (node_modules/@slack/socket-mode/dist/src/SocketModeClient.js, SlackWebSocket.js):
 *
 * - The client gets `url` from apps.connections.open and opens a WebSocket to it; the fake answers the
 *   upgrade only for a fresh, single-use `ticket` (like wss-primary.slack.com/link/?ticket=…).
 * - The client treats itself as connected only when it receives `{"type":"hello", …}`.
 * - Envelopes are `{envelope_id, type, payload, accepts_response_payload, (retry_attempt, retry_reason)}`;
 *   the app acks with `{envelope_id, payload: {...}}` (payload is `{}` for a bare ack()).
 * - `{"type":"disconnect","reason":…}` makes the client send a close frame (1000); after the close
 *   handshake it calls apps.connections.open again (after `clientPingTimeout` × attempts ms) unless
 *   it is shutting down.
 * - The client pings every clientPingTimeout/3 ms and wants pongs (`ws` answers pings itself). Once it
 *   has seen a server ping it expects the next within serverPingTimeout.
 */
export class FakeSocketModeServer {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly sockets = new Map<
    string,
    { ws: WebSocket; info: SocketConnectionInfo; ping?: NodeJS.Timeout }
  >();
  private readonly pending = new Map<
    string,
    { resolve: (ack: JsonObject | undefined) => void; timer: NodeJS.Timeout; record: SocketEnvelopeRecord }
  >();
  private readonly envelopeLog: SocketEnvelopeRecord[] = [];
  private readonly waiters = new Set<() => void>();
  private connectionSeq = 0;
  private closed = false;

  constructor(
    private readonly opts: {
      appId: string;
      pingIntervalMs: number;
      now: () => number;
    },
  ) {}

  issueTicket(): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return ticket;
  }

  /** Called from the HTTP server's `upgrade` event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const ticket = url.searchParams.get('ticket');
    if (this.closed || url.pathname !== '/link/' || ticket === null || !this.tickets.has(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.tickets.delete(ticket); // single use, like Slack's
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
  }

  private onConnection(ws: WebSocket): void {
    this.connectionSeq += 1;
    const id = `conn-${this.connectionSeq}`;
    const entry: { ws: WebSocket; info: SocketConnectionInfo; ping?: NodeJS.Timeout } = {
      ws,
      info: { id, openedAt: this.opts.now(), open: true },
    };
    this.sockets.set(id, entry);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (msg === null || typeof msg !== 'object') return;
      const { envelope_id: envelopeId, payload } = msg as { envelope_id?: unknown; payload?: unknown };
      if (typeof envelopeId !== 'string') return;
      const waiting = this.pending.get(envelopeId);
      const ack = payload !== null && typeof payload === 'object' ? (payload as JsonObject) : {};
      if (waiting) {
        this.pending.delete(envelopeId);
        clearTimeout(waiting.timer);
        waiting.record.ack = ack;
        waiting.resolve(ack);
      } else {
        const rec = this.envelopeLog.find((r) => r.envelope.envelope_id === envelopeId);
        if (rec && rec.ack === undefined) rec.ack = ack; // late ack, after deliver() gave up
      }
    });
    ws.on('close', (code) => {
      entry.info.open = false;
      entry.info.closedAt = this.opts.now();
      entry.info.closeCode = code;
      if (entry.ping) clearInterval(entry.ping);
      this.notify();
    });
    ws.on('error', () => {
      /* the close event follows */
    });
    const open = [...this.sockets.values()].filter((s) => s.info.open).length;
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: open,
        debug_info: { host: 'applink-fake-1', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.opts.appId },
      }),
    );
    if (this.opts.pingIntervalMs > 0) {
      entry.ping = setInterval(() => {
        if (ws.readyState === ws.OPEN) ws.ping(Buffer.from(`ping-${Date.now()}`));
      }, this.opts.pingIntervalMs);
    }
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate()) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`fake Slack: timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  connections(): SocketConnectionInfo[] {
    return [...this.sockets.values()].map((s) => ({ ...s.info }));
  }

  openConnectionIds(): string[] {
    return [...this.sockets.values()].filter((s) => s.info.open).map((s) => s.info.id);
  }

  /** Resolves once at least `count` connections have ever been opened and one is open. */
  waitForConnection(count = 1, timeoutMs = 10_000): Promise<string> {
    return this.waitFor(
      () => this.connectionSeq >= count && this.openConnectionIds().length > 0,
      timeoutMs,
      `Socket Mode connection #${count}`,
    ).then(() => this.openConnectionIds().at(-1)!);
  }

  waitForNoConnections(timeoutMs = 10_000): Promise<void> {
    return this.waitFor(
      () => this.openConnectionIds().length === 0,
      timeoutMs,
      'Socket Mode clients to disconnect',
    );
  }

  envelopes(): SocketEnvelopeRecord[] {
    return this.envelopeLog.map((r) => structuredClone(r));
  }

  /** Send an envelope and wait for its ack (undefined when none arrives within ackTimeoutMs). */
  send(
    envelope: JsonObject & { envelope_id: string },
    ackTimeoutMs: number,
    connectionId?: string,
  ): Promise<JsonObject | undefined> {
    const id = connectionId ?? this.openConnectionIds().at(-1);
    const entry = id === undefined ? undefined : this.sockets.get(id);
    if (!entry?.info.open || entry.ws.readyState !== entry.ws.OPEN) {
      return Promise.reject(
        new Error(`fake Slack: no open Socket Mode connection${connectionId ? ` ${connectionId}` : ''}`),
      );
    }
    const record: SocketEnvelopeRecord = { connectionId: entry.info.id, envelope: structuredClone(envelope) };
    this.envelopeLog.push(record);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelope.envelope_id);
        resolve(undefined);
      }, ackTimeoutMs);
      this.pending.set(envelope.envelope_id, { resolve, timer, record });
      entry.ws.send(JSON.stringify(envelope));
    });
  }

  /** Ask clients to reconnect, as Slack does before recycling a connection. */
  sendDisconnect(
    reason: 'refresh_requested' | 'warning' | 'link_disabled' | string,
    connectionId?: string,
  ): void {
    for (const [id, s] of this.sockets) {
      if (!s.info.open || (connectionId !== undefined && id !== connectionId)) continue;
      s.ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake-1' } }));
    }
  }

  /** Drop a connection without any Socket Mode message (network failure). */
  terminate(connectionId?: string): void {
    for (const [id, s] of this.sockets) {
      if (connectionId !== undefined && id !== connectionId) continue;
      s.ws.terminate();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve(undefined);
      this.pending.delete(id);
    }
    for (const s of this.sockets.values()) {
      if (s.ping) clearInterval(s.ping);
      s.ws.terminate();
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
