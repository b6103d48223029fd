import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { IdentifyRecord, Json, JsonObject } from './types.js';
import type { World } from './world.js';

export const Intent = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildPresences: 1 << 8,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  DirectMessages: 1 << 12,
  DirectMessageReactions: 1 << 13,
  MessageContent: 1 << 15,
} as const;

const Op = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
  RequestSoundboardSounds: 31,
} as const;

interface BufferedEvent {
  s: number;
  t: string;
  d: JsonObject;
}

export interface GatewaySession {
  id: string;
  ws: WebSocket | null;
  seq: number;
  intents: number;
  buffer: BufferedEvent[];
  resumable: boolean;
}

export interface DispatchLog {
  t: string;
  s: number;
  sessionId: string;
  at: number;
}

/** Builds the payload for one session, or null to skip it (missing intent). */
export type DispatchBuilder = (session: GatewaySession) => JsonObject | null;

interface Connection {
  ws: WebSocket;
  session: GatewaySession | null;
}

export class Gateway {
  readonly wss = new WebSocketServer({ noServer: true });
  readonly sessions = new Map<string, GatewaySession>();
  readonly identifies: IdentifyRecord[] = [];
  readonly dispatchLog: DispatchLog[] = [];
  readonly connections = new Set<Connection>();
  readonly resumes: { sessionId: string; seq: number; ok: boolean; at: number }[] = [];

  constructor(
    private readonly world: World,
    private readonly gatewayUrl: () => string,
  ) {
    this.wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.onConnection(ws, req));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  /** Sessions that are connected and identified. */
  liveSessions(): GatewaySession[] {
    return [...this.sessions.values()].filter((s) => s.ws !== null);
  }

  dispatch(t: string, build: DispatchBuilder): number {
    let delivered = 0;
    for (const session of this.sessions.values()) {
      if (!session.resumable && session.ws === null) continue;
      const d = build(session);
      if (d === null) continue;
      this.sendDispatch(session, t, d);
      // Sessions that are disconnected but resumable get the event on RESUME (replayed from the buffer).
      delivered++;
    }
    return delivered;
  }

  /** Ask every connected client to reconnect and resume (op 7). */
  requestReconnect(): void {
    for (const s of this.liveSessions()) s.ws?.send(JSON.stringify({ op: Op.Reconnect, d: null }));
  }

  /** Close every connected client's socket with the given code (4000 lets discord.js resume). */
  disconnectAll(code: number, reason = 'fake discord disconnect'): void {
    for (const c of this.connections) c.ws.close(code, reason);
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    this.connections.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // ------------------------------------------------------------------ internals

  private sendDispatch(session: GatewaySession, t: string, d: JsonObject): void {
    session.seq += 1;
    const event = { s: session.seq, t, d };
    session.buffer.push(event);
    if (session.buffer.length > 1000) session.buffer.shift();
    this.dispatchLog.push({ t, s: session.seq, sessionId: session.id, at: Date.now() });
    session.ws?.send(JSON.stringify({ op: Op.Dispatch, ...event }));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const conn: Connection = { ws, session: null };
    this.connections.add(conn);
    const params = new URL(req.url ?? '/', 'http://fake').searchParams;
    ws.on('close', (code: number) => {
      this.connections.delete(conn);
      const session = conn.session;
      if (session && session.ws === ws) {
        session.ws = null;
        // A client-initiated normal close ends the session; other codes keep it resumable.
        if (code === 1000 || code === 1001) {
          session.resumable = false;
          this.sessions.delete(session.id);
        }
      }
    });
    ws.on('error', () => {});
    if (params.get('v') !== '10') {
      ws.close(4012, 'Invalid API version');
      return;
    }
    if ((params.get('encoding') ?? 'json') !== 'json') {
      ws.close(4002, 'Error while decoding payload.');
      return;
    }
    if (params.has('compress')) {
      ws.close(4002, 'Transport compression is not supported by the fake.');
      return;
    }
    ws.send(JSON.stringify({ op: Op.Hello, d: { heartbeat_interval: this.world.opts.heartbeatIntervalMs } }));
    ws.on('message', (raw: Buffer, isBinary: boolean) => {
      let payload: { op?: unknown; d?: unknown };
      try {
        if (isBinary) throw new Error('binary');
        payload = JSON.parse(raw.toString('utf8')) as { op?: unknown; d?: unknown };
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      this.onPayload(conn, payload);
    });
  }

  private onPayload(conn: Connection, payload: { op?: unknown; d?: unknown }): void {
    const { ws } = conn;
    const d = (payload.d ?? null) as Record<string, unknown> | number | null;
    switch (payload.op) {
      case Op.Heartbeat:
        ws.send(JSON.stringify({ op: Op.HeartbeatAck }));
        return;
      case Op.Identify:
        this.onIdentify(conn, (d ?? {}) as Record<string, unknown>);
        return;
      case Op.Resume:
        this.onResume(conn, (d ?? {}) as Record<string, unknown>);
        return;
      default:
        break;
    }
    if (!conn.session) {
      ws.close(4003, 'Not authenticated.');
      return;
    }
    switch (payload.op) {
      case Op.PresenceUpdate:
      case Op.VoiceStateUpdate:
      case Op.RequestSoundboardSounds:
        return;
      case Op.RequestGuildMembers:
        this.onRequestMembers(conn.session, (d ?? {}) as Record<string, unknown>);
        return;
      default:
        ws.close(4001, 'Unknown opcode.');
    }
  }

  private tokenOk(token: unknown): boolean {
    return typeof token === 'string' && token.replace(/^Bot\s+/i, '') === this.world.token;
  }

  private onIdentify(conn: Connection, d: Record<string, unknown>): void {
    const { ws } = conn;
    const tokenOk = this.tokenOk(d.token);
    const intents = typeof d.intents === 'number' ? d.intents : Number.NaN;
    const shard = Array.isArray(d.shard) ? (d.shard as [number, number]) : null;
    this.identifies.push({
      intents,
      shard,
      tokenOk,
      properties: (d.properties ?? null) as Json,
      at: Date.now(),
    });
    if (conn.session) {
      ws.close(4005, 'Already authenticated.');
      return;
    }
    if (!tokenOk) {
      ws.close(4004, 'Authentication failed.');
      return;
    }
    if (!Number.isInteger(intents) || intents < 0 || intents >= 1 << 27) {
      ws.close(4013, 'Invalid intent(s).');
      return;
    }
    const privileged = Intent.GuildMembers | Intent.GuildPresences | Intent.MessageContent;
    if (intents & privileged & ~this.world.opts.privilegedIntents) {
      ws.close(4014, 'Disallowed intent(s).');
      return;
    }
    if (shard && (shard[1] !== 1 || shard[0] !== 0)) {
      ws.close(4010, 'Invalid shard.');
      return;
    }
    const session: GatewaySession = {
      id: randomSessionId(),
      ws,
      seq: 0,
      intents,
      buffer: [],
      resumable: true,
    };
    conn.session = session;
    this.sessions.set(session.id, session);
    const guilds = [...this.world.guilds.values()].filter((g) => g.members.has(this.world.botUserId));
    this.sendDispatch(session, 'READY', {
      v: 10,
      user: this.world.botUserJson(),
      user_settings: {},
      relationships: [],
      private_channels: [],
      presences: [],
      guild_join_requests: [],
      geo_ordered_rtc_regions: ['fake'],
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })),
      session_id: session.id,
      session_type: 'normal',
      resume_gateway_url: this.gatewayUrl(),
      shard: shard ?? [0, 1],
      application: { id: this.world.applicationId, flags: this.world.applicationFlags },
      auth: {},
      _trace: ['["fake-discord-gateway",{"micros":1}]'],
    });
    if (intents & Intent.Guilds) {
      for (const g of guilds) {
        this.sendDispatch(
          session,
          'GUILD_CREATE',
          this.world.guildCreateJson(g, (intents & Intent.GuildMembers) !== 0),
        );
      }
    }
  }

  private onResume(conn: Connection, d: Record<string, unknown>): void {
    const { ws } = conn;
    const sessionId = typeof d.session_id === 'string' ? d.session_id : '';
    const seq = typeof d.seq === 'number' ? d.seq : -1;
    if (!this.tokenOk(d.token)) {
      ws.close(4004, 'Authentication failed.');
      return;
    }
    const session = this.sessions.get(sessionId);
    const oldest = session?.buffer[0]?.s ?? (session ? session.seq + 1 : 0);
    const ok = !!session && session.resumable && seq <= session.seq && seq >= oldest - 1;
    this.resumes.push({ sessionId, seq, ok, at: Date.now() });
    if (!session || !ok) {
      ws.send(JSON.stringify({ op: Op.InvalidSession, d: false }));
      return;
    }
    if (session.ws && session.ws !== ws) session.ws.close(4000, 'Session resumed elsewhere');
    session.ws = ws;
    conn.session = session;
    for (const event of session.buffer) {
      if (event.s > seq) ws.send(JSON.stringify({ op: Op.Dispatch, ...event }));
    }
    this.sendDispatch(session, 'RESUMED', {});
  }

  private onRequestMembers(session: GatewaySession, d: Record<string, unknown>): void {
    const guildId = typeof d.guild_id === 'string' ? d.guild_id : '';
    const guild = this.world.guilds.get(guildId);
    if (!guild) return;
    const userIds = Array.isArray(d.user_ids)
      ? (d.user_ids as string[])
      : typeof d.user_ids === 'string'
        ? [d.user_ids]
        : null;
    const query = typeof d.query === 'string' ? d.query.toLowerCase() : '';
    const limit = typeof d.limit === 'number' && d.limit > 0 ? d.limit : Number.POSITIVE_INFINITY;
    let ids = [...guild.members.keys()];
    if (userIds) ids = ids.filter((id) => userIds.includes(id));
    else if (query)
      ids = ids.filter((id) => this.world.users.get(id)?.username.toLowerCase().startsWith(query));
    ids = ids.slice(0, limit);
    const out: JsonObject = {
      guild_id: guild.id,
      members: ids.map((id) => this.world.memberJson(guild.id, id, { withUser: true })),
      chunk_index: 0,
      chunk_count: 1,
    };
    if (userIds) out.not_found = userIds.filter((id) => !guild.members.has(id));
    if (typeof d.nonce === 'string') out.nonce = d.nonce;
    this.sendDispatch(session, 'GUILD_MEMBERS_CHUNK', out);
  }
}

function randomSessionId(): string {
  return randomBytes(16).toString('hex');
}
