import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  bearerToken,
  headerValue,
  parseApiArgs,
  parseMaybeJson,
  parseMultipart,
  postRaw,
  readBody,
  sendJson,
  sendText,
} from './http-util.js';
import { signedHeaders } from './signing.js';
import { FakeSocketModeServer } from './socket-mode.js';
import type {
  AddFileOptions,
  ApiCall,
  DeliverOptions,
  DeliveryKind,
  DeliveryResult,
  DeliveryTarget,
  EphemeralMessage,
  FakeChannel,
  FakeMessage,
  FakeSlackOptions,
  FakeUser,
  JsonObject,
  MessageUpdate,
  ResponseUrlPost,
  SlackFile,
  SocketConnectionInfo,
  SocketEnvelopeRecord,
  UploadRecord,
  ViewRecord,
} from './types.js';

type ApiResult = JsonObject;
type MethodHandler = (args: JsonObject) => ApiResult;

interface Fault {
  kind: 'ratelimit' | 'error';
  remaining: number;
  retryAfterSeconds: number;
  error: string;
}

interface TriggerState {
  createdAt: number;
  used: boolean;
}

interface ResponseUrlState {
  id: string;
  url: string;
  createdAt: number;
  uses: number;
  channel?: string;
  user?: string;
}

interface StoredFile {
  file: SlackFile;
  bytes: Buffer;
}

interface PendingUpload {
  fileId: string;
  filename: string;
  length: number;
  altText?: string;
  snippetType?: string;
  key: string;
  upload?: UploadRecord;
  completed: boolean;
}

interface UserPayloadRef {
  id: string;
  username: string;
  name: string;
  team_id: string;
}

const MIME_BY_EXT: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  heic: 'image/heic',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  txt: 'text/plain',
  json: 'application/json',
  pdf: 'application/pdf',
};

const PRETTY_BY_FILETYPE: Record<string, string> = {
  png: 'PNG',
  jpg: 'JPEG',
  gif: 'GIF',
  webp: 'WebP',
  mp4: 'MPEG 4 Video',
  mov: 'QuickTime Movie',
  webm: 'WebM',
  text: 'Plain Text',
  binary: 'Binary',
};

/** The page slack.com serves for a file URL without a valid token (it is the workspace sign-in page). */
const LOGIN_PAGE =
  '<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>' +
  '<body><div id="page"><h1>Sign in to your workspace</h1>' +
  '<form id="signin_form" action="/signin" method="post"><input type="email" name="email"></form></div></body></html>';

function filetypeFor(name: string, mimetype: string): string {
  const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : '';
  if (ext === 'jpeg') return 'jpg';
  if (ext && MIME_BY_EXT[ext]) return ext;
  if (mimetype.startsWith('text/')) return 'text';
  const fromMime = Object.entries(MIME_BY_EXT).find(([, m]) => m === mimetype)?.[0];
  return fromMime ?? (ext || 'binary');
}

function mimeFor(name: string): string {
  const ext = name.includes('.') ? name.split('.').pop()!.toLowerCase() : '';
  return MIME_BY_EXT[ext] ?? 'application/octet-stream';
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

const fail = (error: string, extra: JsonObject = {}): ApiResult => ({ ok: false, error, ...extra });
const invalidArgs = (message: string): ApiResult =>
  fail('invalid_arguments', { response_metadata: { messages: [`[ERROR] ${message}`] } });

/** JSON argument that may arrive as a JSON string (form encoding) or as a value (JSON body). */
function jsonArg(v: unknown): { ok: true; value: unknown } | { ok: false } {
  if (v === undefined || v === null || v === '') return { ok: true, value: undefined };
  if (typeof v === 'string') {
    try {
      return { ok: true, value: JSON.parse(v) };
    } catch {
      return { ok: false };
    }
  }
  return { ok: true, value: v };
}

const clone = <T>(v: T): T => structuredClone(v);

/**
 * A protocol-faithful fake Slack for tests: Web API, file hosting, response_url, and the inbound side
 * (signed HTTP requests to a Bolt HTTPReceiver, or Socket Mode envelopes).
 */
export class FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly teamDomain: string;
  readonly appId: string;
  readonly botId: string;
  readonly botUserId: string;
  readonly botName: string;
  readonly verificationToken: string;
  /** Default human user the payload builders use. */
  readonly defaultUserId = 'U0TESTUSER';
  /** Default channel the payload builders use. */
  readonly defaultChannelId = 'C0GENERAL';

  private readonly server: Server;
  private readonly socket: FakeSocketModeServer;
  private port = 0;
  private clockOffsetMs = 0;
  private seq = 0;
  private tsSeq = 0;

  private readonly opts: Required<
    Pick<
      FakeSlackOptions,
      'triggerTtlMs' | 'responseUrlMaxUses' | 'responseUrlTtlMs' | 'socketAckTimeoutMs' | 'strictChannels'
    >
  >;
  private readonly channels = new Map<string, FakeChannel>();
  private readonly users = new Map<string, FakeUser>();
  private readonly messageStore: FakeMessage[] = [];
  private readonly deletedMessages = new Set<FakeMessage>();
  private readonly updateLog = new Map<string, MessageUpdate[]>();
  private readonly ephemeralLog: EphemeralMessage[] = [];
  private readonly viewLog: ViewRecord[] = [];
  private readonly viewStore = new Map<string, JsonObject>();
  private readonly files = new Map<string, StoredFile>();
  private readonly pendingUploads = new Map<string, PendingUpload>();
  private readonly uploadsByKey = new Map<string, PendingUpload>();
  private readonly triggers = new Map<string, TriggerState>();
  private readonly responseUrls = new Map<string, ResponseUrlState>();
  private readonly responseUrlLog: ResponseUrlPost[] = [];
  private readonly callLog: ApiCall[] = [];
  private readonly faults = new Map<string, Fault[]>();
  private readonly fileFetchLog: Array<{ fileId: string; authorized: boolean; status: number; at: number }> =
    [];
  private readonly methods: Record<string, MethodHandler>;

  constructor(options: FakeSlackOptions = {}) {
    this.botToken = options.botToken ?? 'xoxb-fake-bot-token';
    this.appToken = options.appToken ?? 'xapp-1-A0FAKEAPP-fake-app-token';
    this.teamId = options.teamId ?? 'T0FAKETEAM';
    this.teamDomain = options.teamDomain ?? 'kinema-test';
    this.appId = options.appId ?? 'A0FAKEAPP';
    this.botId = options.botId ?? 'B0FAKEBOT';
    this.botUserId = options.botUserId ?? 'U0FAKEBOT';
    this.botName = options.botName ?? 'kinema';
    this.verificationToken = options.verificationToken ?? 'fake-verification-token';
    this.opts = {
      triggerTtlMs: options.triggerTtlMs ?? 3000,
      responseUrlMaxUses: options.responseUrlMaxUses ?? 5,
      responseUrlTtlMs: options.responseUrlTtlMs ?? 30 * 60 * 1000,
      socketAckTimeoutMs: options.socketAckTimeoutMs ?? 3000,
      strictChannels: options.strictChannels ?? false,
    };
    this.addUser({ id: this.botUserId, name: this.botName, real_name: 'Kinema', is_bot: true });
    this.addUser({ id: this.defaultUserId, name: 'tester', real_name: 'Test User' });
    this.addChannel({ id: this.defaultChannelId, name: 'general' });

    this.socket = new FakeSocketModeServer({
      appId: this.appId,
      pingIntervalMs: options.socketPingIntervalMs ?? 0,
      now: () => this.now(),
    });
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendText(res, 500, `fake Slack error: ${String(err)}`);
        else res.destroy();
      });
    });
    this.server.on('upgrade', (req, socket, head) => this.socket.handleUpgrade(req, socket, head));

    this.methods = {
      'auth.test': () => this.authTest(),
      'chat.postMessage': (a) => this.chatPostMessage(a),
      'chat.update': (a) => this.chatUpdate(a),
      'chat.postEphemeral': (a) => this.chatPostEphemeral(a),
      'chat.delete': (a) => this.chatDelete(a),
      'views.open': (a) => this.viewsOpenOrPush('views.open', a),
      'views.push': (a) => this.viewsOpenOrPush('views.push', a),
      'views.update': (a) => this.viewsUpdate(a),
      'files.info': (a) => this.filesInfo(a),
      'files.getUploadURLExternal': (a) => this.filesGetUploadUrlExternal(a),
      'files.completeUploadExternal': (a) => this.filesCompleteUploadExternal(a),
      'reactions.add': (a) => this.reactionsAdd(a),
      'reactions.remove': (a) => this.reactionsRemove(a),
      'conversations.info': (a) => this.conversationsInfo(a),
      'users.info': (a) => this.usersInfo(a),
      'apps.connections.open': () => this.appsConnectionsOpen(),
    };
  }

  // ---------------------------------------------------------------- lifecycle & addresses

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>` */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Web API base for `clientOptions.slackApiUrl` (with the trailing slash the WebClient expects). */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  /** Stops everything: Socket Mode connections are dropped, pending acks resolve as not acked. */
  async close(): Promise<void> {
    await this.socket.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The fake's clock (Date.now() plus `advanceClock` offsets); trigger and response_url expiry use it. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Move the fake's clock forward, e.g. past a trigger_id's 3 s lifetime, without sleeping. */
  advanceClock(ms: number): void {
    this.clockOffsetMs += ms;
  }

  // ---------------------------------------------------------------- ids

  private nextId(prefix: string): string {
    this.seq += 1;
    return `${prefix}0${this.seq.toString(36).toUpperCase().padStart(8, '0')}`;
  }

  private nextTs(): string {
    this.tsSeq += 1;
    return `${Math.floor(this.now() / 1000)}.${String(this.tsSeq % 1_000_000).padStart(6, '0')}`;
  }

  /** A fresh trigger_id, valid for one views.open / views.push within `triggerTtlMs`. */
  triggerId(): string {
    const id = `${Math.floor(this.now() / 1000)}${this.seq}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString('hex')}`;
    this.seq += 1;
    this.triggers.set(id, { createdAt: this.now(), used: false });
    return id;
  }

  /** A fresh response_url pointing at the fake (5 uses within 30 minutes by default). */
  responseUrl(
    kind: 'commands' | 'actions' = 'commands',
    ctx: { channel?: string; user?: string } = {},
  ): string {
    const id = this.nextId('R');
    const url = `${this.baseUrl}/${kind}/${this.teamId}/${id}/${randomBytes(12).toString('hex')}`;
    const state: ResponseUrlState = { id, url, createdAt: this.now(), uses: 0 };
    if (ctx.channel !== undefined) state.channel = ctx.channel;
    if (ctx.user !== undefined) state.user = ctx.user;
    this.responseUrls.set(new URL(url).pathname, state);
    return url;
  }

  // ---------------------------------------------------------------- workspace setup

  addUser(user: Partial<FakeUser> & { id: string }): FakeUser {
    const u: FakeUser = {
      id: user.id,
      name: user.name ?? user.id.toLowerCase(),
      real_name: user.real_name ?? user.name ?? user.id,
      tz: user.tz ?? 'Europe/London',
      is_bot: user.is_bot ?? false,
    };
    if (user.deleted !== undefined) u.deleted = user.deleted;
    if (user.is_admin !== undefined) u.is_admin = user.is_admin;
    if (user.is_owner !== undefined) u.is_owner = user.is_owner;
    this.users.set(u.id, u);
    return clone(u);
  }

  addChannel(channel: Partial<FakeChannel> & { id: string }): FakeChannel {
    const c: FakeChannel = {
      id: channel.id,
      name: channel.name ?? channel.id.toLowerCase(),
      is_private: channel.is_private ?? channel.id.startsWith('G'),
      is_im: channel.is_im ?? channel.id.startsWith('D'),
      is_member: channel.is_member ?? true,
    };
    this.channels.set(c.id, c);
    return clone(c);
  }

  /** Register a file (as if a user uploaded it) and return the file object Slack would show. */
  addFile(bytes: Buffer | Uint8Array | string, options: AddFileOptions): SlackFile {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    const id = this.nextId('F');
    const mimetype = options.mimetype ?? mimeFor(options.name);
    const file = this.buildFile(id, {
      name: options.name,
      title: options.title ?? options.name,
      mimetype,
      filetype: options.filetype ?? filetypeFor(options.name, mimetype),
      size: buf.length,
      user: options.user ?? this.defaultUserId,
    });
    this.files.set(id, { file, bytes: buf });
    return clone(file);
  }

  private buildFile(
    id: string,
    f: { name: string; title: string; mimetype: string; filetype: string; size: number; user: string },
  ): SlackFile {
    const sec = Math.floor(this.now() / 1000);
    const name = encodeURIComponent(f.name);
    return {
      id,
      created: sec,
      timestamp: sec,
      name: f.name,
      title: f.title,
      mimetype: f.mimetype,
      filetype: f.filetype,
      pretty_type: PRETTY_BY_FILETYPE[f.filetype] ?? f.filetype.toUpperCase(),
      user: f.user,
      user_team: this.teamId,
      editable: false,
      size: f.size,
      mode: 'hosted',
      is_external: false,
      external_type: '',
      is_public: true,
      public_url_shared: false,
      display_as_bot: false,
      username: '',
      url_private: `${this.baseUrl}/files-pri/${this.teamId}-${id}/${name}`,
      url_private_download: `${this.baseUrl}/files-pri/${this.teamId}-${id}/download/${name}`,
      permalink: `${this.baseUrl}/files/${f.user}/${id}/${name}`,
      permalink_public: `${this.baseUrl}/${this.teamId}-${id}-${randomBytes(5).toString('hex')}`,
      has_rich_preview: false,
      file_access: 'visible',
    };
  }

  // ---------------------------------------------------------------- fault switches

  /** The next `times` calls of `method` answer HTTP 429, `Retry-After: retryAfterSeconds`, `{ok:false,error:'ratelimited'}`. */
  rateLimit(method: string, opts: { times?: number; retryAfterSeconds?: number } = {}): void {
    this.pushFault(method, {
      kind: 'ratelimit',
      remaining: opts.times ?? 1,
      retryAfterSeconds: opts.retryAfterSeconds ?? 1,
      error: 'ratelimited',
    });
  }

  /** The next `times` calls of `method` answer HTTP 200 `{ok:false, error}`. */
  failNext(method: string, error: string, times = 1): void {
    this.pushFault(method, { kind: 'error', remaining: times, retryAfterSeconds: 0, error });
  }

  clearFaults(method?: string): void {
    if (method === undefined) this.faults.clear();
    else this.faults.delete(method);
  }

  private pushFault(method: string, fault: Fault): void {
    const list = this.faults.get(method) ?? [];
    list.push(fault);
    this.faults.set(method, list);
  }

  private takeFault(method: string): Fault | undefined {
    const list = this.faults.get(method);
    const f = list?.[0];
    if (!list || !f) return undefined;
    f.remaining -= 1;
    if (f.remaining <= 0) list.shift();
    return f;
  }

  // ---------------------------------------------------------------- inspection

  /** Messages in a channel in posting order, thread replies and file shares included (deleted ones excluded). */
  messages(channel: string): FakeMessage[] {
    const id = this.normalizeChannelId(channel);
    return this.messageStore.filter((m) => m.channel === id && !this.deletedMessages.has(m)).map(clone);
  }

  /** One message by ts (undefined when missing or deleted). */
  message(channel: string, ts: string): FakeMessage | undefined {
    const m = this.findMessage(this.normalizeChannelId(channel), ts);
    return m ? clone(m) : undefined;
  }

  /** Replies in a thread (not including the parent). */
  threadReplies(channel: string, threadTs: string): FakeMessage[] {
    return this.messages(channel).filter((m) => m.thread_ts === threadTs && m.ts !== threadTs);
  }

  /** chat.update history of one message, oldest first. */
  updates(channel: string, ts: string): MessageUpdate[] {
    return (this.updateLog.get(`${this.normalizeChannelId(channel)}/${ts}`) ?? []).map(clone);
  }

  ephemerals(channel?: string): EphemeralMessage[] {
    return this.ephemeralLog.filter((e) => channel === undefined || e.channel === channel).map(clone);
  }

  /** views.open / views.push / views.update that succeeded, in order. */
  views(): ViewRecord[] {
    return this.viewLog.map(clone);
  }

  /** Current state of a view by id. */
  view(viewId: string): JsonObject | undefined {
    const v = this.viewStore.get(viewId);
    return v ? clone(v) : undefined;
  }

  /** Bytes of a file uploaded through files.getUploadURLExternal + upload POST, or added with addFile. */
  uploadedFile(fileId: string): Buffer | undefined {
    const pending = this.pendingUploads.get(fileId);
    if (pending?.upload) return Buffer.from(pending.upload.bytes);
    const stored = this.files.get(fileId);
    return stored ? Buffer.from(stored.bytes) : undefined;
  }

  /** Details of the upload POST (encoding, part name, declared vs. received length). */
  uploadRecord(fileId: string): UploadRecord | undefined {
    const u = this.pendingUploads.get(fileId)?.upload;
    return u ? { ...u, bytes: Buffer.from(u.bytes) } : undefined;
  }

  /** The file object as files.info would return it. */
  file(fileId: string): SlackFile | undefined {
    const f = this.files.get(fileId);
    return f ? clone(f.file) : undefined;
  }

  /** Web API calls (optionally of one method), with HTTP status and the fake's answer. */
  calls(method?: string): ApiCall[] {
    return this.callLog.filter((c) => method === undefined || c.method === method).map(clone);
  }

  responseUrlPosts(): ResponseUrlPost[] {
    return this.responseUrlLog.map(clone);
  }

  /** GETs of url_private / url_private_download and whether they carried the bot token. */
  fileFetches(): Array<{ fileId: string; authorized: boolean; status: number; at: number }> {
    return this.fileFetchLog.map(clone);
  }

  // ---------------------------------------------------------------- socket mode controls

  socketConnections(): SocketConnectionInfo[] {
    return this.socket.connections();
  }

  socketEnvelopes(): SocketEnvelopeRecord[] {
    return this.socket.envelopes();
  }

  /** Wait until the `count`-th Socket Mode connection has been opened (and one is open); returns its id. */
  waitForSocketConnection(count = 1, timeoutMs = 10_000): Promise<string> {
    return this.socket.waitForConnection(count, timeoutMs);
  }

  /** Wait until no Socket Mode connection is open (e.g. after `app.stop()`, which does not wait itself). */
  waitForSocketDisconnect(timeoutMs = 10_000): Promise<void> {
    return this.socket.waitForNoConnections(timeoutMs);
  }

  /** Send Slack's `{"type":"disconnect", reason}`; the client closes and reconnects via apps.connections.open. */
  socketDisconnect(reason = 'refresh_requested', connectionId?: string): void {
    this.socket.sendDisconnect(reason, connectionId);
  }

  /** Drop Socket Mode connections abruptly (no close handshake). */
  socketTerminate(connectionId?: string): void {
    this.socket.terminate(connectionId);
  }

  // ---------------------------------------------------------------- HTTP routing

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const path = url.pathname;
    if (path.startsWith('/api/')) return this.handleApi(req, res, url);
    if (path.startsWith('/upload/v1/')) return this.handleUpload(req, res, path.slice('/upload/v1/'.length));
    if (path.startsWith('/files-pri/') && (req.method === 'GET' || req.method === 'HEAD')) {
      return this.handleFileGet(req, res, path);
    }
    if (path.startsWith('/files/')) {
      // permalink: the web UI, a sign-in page for a bot
      return sendText(res, 200, LOGIN_PAGE, 'text/html; charset=utf-8');
    }
    const responseUrl = this.responseUrls.get(path);
    if (responseUrl && req.method === 'POST') return this.handleResponseUrl(req, res, responseUrl);
    sendText(res, 404, 'not found');
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = decodeURIComponent(url.pathname.slice('/api/'.length));
    const body = await readBody(req);
    const { args, encoding, parseError } = await parseApiArgs(
      headerValue(req.headers, 'content-type'),
      body,
      url.searchParams,
    );
    const token = bearerToken(req.headers) ?? str(args.token);
    const auth: ApiCall['auth'] =
      token === undefined
        ? 'none'
        : token === this.botToken
          ? 'bot'
          : token === this.appToken
            ? 'app'
            : 'invalid';
    let status = 200;
    const headers: Record<string, string> = {};
    let response: ApiResult;

    const handler = this.methods[method];
    if (parseError) response = fail(parseError);
    else if (auth === 'none') response = fail('not_authed');
    else if (auth === 'invalid') response = fail('invalid_auth');
    else if (!handler) response = fail('unknown_method', { req_method: method });
    else if ((method === 'apps.connections.open') !== (auth === 'app'))
      response = fail('not_allowed_token_type');
    else {
      const fault = this.takeFault(method);
      if (fault?.kind === 'ratelimit') {
        status = 429;
        headers['retry-after'] = String(fault.retryAfterSeconds);
        response = fail('ratelimited');
      } else if (fault?.kind === 'error') {
        response = fail(fault.error);
      } else {
        response = handler(args);
      }
    }
    const logged: JsonObject = {};
    for (const [k, v] of Object.entries(args)) logged[k] = Buffer.isBuffer(v) ? `<${v.length} bytes>` : v;
    const call: ApiCall = {
      method,
      args: logged,
      encoding,
      auth,
      status,
      ok: response.ok === true,
      response,
      at: this.now(),
    };
    if (typeof response.error === 'string') call.error = response.error;
    this.callLog.push(clone(call));
    sendJson(res, status, response, headers);
  }

  // ---------------------------------------------------------------- channels & messages helpers

  private normalizeChannelId(channel: string): string {
    // Posting to a user id opens (or reuses) the DM with that user, as chat.postMessage does.
    if (/^[UW][A-Z0-9]+$/.test(channel)) return `D${channel.slice(1)}`;
    return channel;
  }

  private resolveChannel(raw: unknown): { channel: FakeChannel } | { error: ApiResult } {
    const given = str(raw);
    if (!given) return { error: fail('channel_not_found') };
    const id = this.normalizeChannelId(given);
    let channel = this.channels.get(id);
    if (!channel) {
      const isDm = id.startsWith('D');
      if (this.opts.strictChannels && !isDm) return { error: fail('channel_not_found') };
      if (!/^[CDG][A-Z0-9]+$/.test(id)) return { error: fail('channel_not_found') };
      channel = this.channels.get(this.addChannel({ id }).id)!;
    }
    return { channel };
  }

  private findMessage(channel: string, ts: string): FakeMessage | undefined {
    return this.messageStore.find(
      (m) => m.channel === channel && m.ts === ts && !this.deletedMessages.has(m),
    );
  }

  private botMessageFields(): Pick<FakeMessage, 'user' | 'bot_id' | 'app_id'> & {
    team: string;
    bot_profile: JsonObject;
  } {
    return {
      user: this.botUserId,
      bot_id: this.botId,
      app_id: this.appId,
      team: this.teamId,
      bot_profile: {
        id: this.botId,
        app_id: this.appId,
        name: this.botName,
        deleted: false,
        team_id: this.teamId,
      },
    };
  }

  private addReply(parent: FakeMessage | undefined, reply: FakeMessage): void {
    if (!parent) return;
    parent.reply_count = (parent.reply_count ?? 0) + 1;
    if (parent.thread_ts === undefined) parent.thread_ts = parent.ts;
    reply.parent_user_id = parent.user;
  }

  private publicMessage(m: FakeMessage): JsonObject {
    const { source: _source, channel: _channel, ...rest } = m;
    return clone(rest) as JsonObject;
  }

  // ---------------------------------------------------------------- Web API methods

  private authTest(): ApiResult {
    return {
      ok: true,
      url: `https://${this.teamDomain}.slack.com/`,
      team: 'Kinema Test',
      user: this.botName,
      team_id: this.teamId,
      user_id: this.botUserId,
      bot_id: this.botId,
      is_enterprise_install: false,
    };
  }

  private messageContent(
    args: JsonObject,
  ):
    | { error: ApiResult }
    | { text: string | undefined; blocks: unknown[] | undefined; attachments: unknown[] | undefined } {
    const blocks = jsonArg(args.blocks);
    if (!blocks.ok || (blocks.value !== undefined && !Array.isArray(blocks.value)))
      return { error: fail('invalid_blocks') };
    const attachments = jsonArg(args.attachments);
    if (!attachments.ok || (attachments.value !== undefined && !Array.isArray(attachments.value))) {
      return { error: fail('invalid_attachments') };
    }
    if (Array.isArray(blocks.value) && blocks.value.length > 50) return { error: fail('invalid_blocks') };
    const text = str(args.text);
    if (text !== undefined && text.length > 40_000) return { error: fail('msg_too_long') };
    return {
      text,
      blocks: blocks.value as unknown[] | undefined,
      attachments: attachments.value as unknown[] | undefined,
    };
  }

  private chatPostMessage(args: JsonObject): ApiResult {
    const ch = this.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    if (!ch.channel.is_member) return fail('not_in_channel');
    const content = this.messageContent(args);
    if ('error' in content) return content.error;
    if (!content.text && !content.blocks?.length && !content.attachments?.length) return fail('no_text');
    const threadTs = str(args.thread_ts);
    const msg: FakeMessage = {
      type: 'message',
      channel: ch.channel.id,
      ts: this.nextTs(),
      text: content.text ?? '',
      ...this.botMessageFields(),
      source: 'chat.postMessage',
    };
    if (content.blocks) msg.blocks = content.blocks;
    if (content.attachments) msg.attachments = content.attachments;
    const metadata = jsonArg(args.metadata);
    if (metadata.ok && metadata.value !== undefined) msg.metadata = metadata.value;
    if (threadTs) {
      msg.thread_ts = threadTs;
      this.addReply(this.findMessage(ch.channel.id, threadTs), msg);
    }
    this.messageStore.push(msg);
    return { ok: true, channel: ch.channel.id, ts: msg.ts, message: this.publicMessage(msg) };
  }

  private chatUpdate(args: JsonObject): ApiResult {
    const ch = this.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    const ts = str(args.ts);
    const msg = ts ? this.findMessage(ch.channel.id, ts) : undefined;
    if (!ts || !msg) return fail('message_not_found');
    if (msg.user !== this.botUserId) return fail('cant_update_message');
    const content = this.messageContent(args);
    if ('error' in content) return content.error;
    if (content.text === undefined && content.blocks === undefined && content.attachments === undefined) {
      return fail('no_text');
    }
    if (content.text !== undefined) msg.text = content.text;
    if (content.blocks !== undefined) msg.blocks = content.blocks;
    if (content.attachments !== undefined) msg.attachments = content.attachments;
    msg.edited = { user: this.botUserId, ts: this.nextTs() };
    const key = `${ch.channel.id}/${ts}`;
    const history = this.updateLog.get(key) ?? [];
    const update: MessageUpdate = { at: this.now(), args: clone(args) };
    if (content.text !== undefined) update.text = content.text;
    if (content.blocks !== undefined) update.blocks = content.blocks;
    if (content.attachments !== undefined) update.attachments = content.attachments;
    history.push(update);
    this.updateLog.set(key, history);
    return { ok: true, channel: ch.channel.id, ts, text: msg.text, message: this.publicMessage(msg) };
  }

  private chatPostEphemeral(args: JsonObject): ApiResult {
    const ch = this.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    if (!ch.channel.is_member) return fail('not_in_channel');
    const user = str(args.user);
    if (!user || !this.users.has(user)) return fail('user_not_in_channel');
    const content = this.messageContent(args);
    if ('error' in content) return content.error;
    if (!content.text && !content.blocks?.length && !content.attachments?.length) return fail('no_text');
    const messageTs = this.nextTs();
    const e: EphemeralMessage = {
      channel: ch.channel.id,
      user,
      text: content.text ?? '',
      message_ts: messageTs,
      source: 'chat.postEphemeral',
    };
    if (content.blocks) e.blocks = content.blocks;
    const threadTs = str(args.thread_ts);
    if (threadTs) e.thread_ts = threadTs;
    this.ephemeralLog.push(e);
    return { ok: true, message_ts: messageTs };
  }

  private chatDelete(args: JsonObject): ApiResult {
    const ch = this.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    const ts = str(args.ts);
    const msg = ts ? this.findMessage(ch.channel.id, ts) : undefined;
    if (!ts || !msg) return fail('message_not_found');
    if (msg.user !== this.botUserId) return fail('cant_delete_message');
    this.deletedMessages.add(msg);
    return { ok: true, channel: ch.channel.id, ts };
  }

  private validateView(raw: unknown): { view: JsonObject } | { error: ApiResult } {
    const parsed = jsonArg(raw);
    if (!parsed.ok) return { error: invalidArgs('failed to parse view JSON [json-pointer:/view]') };
    const view = parsed.value;
    if (view === undefined)
      return { error: invalidArgs('missing required field: view [json-pointer:/view]') };
    if (view === null || typeof view !== 'object' || Array.isArray(view)) {
      return { error: invalidArgs('must be an object [json-pointer:/view]') };
    }
    const v = view as JsonObject;
    if (v.type !== 'modal') return { error: invalidArgs('must be modal [json-pointer:/view/type]') };
    const title = v.title as { type?: unknown; text?: unknown } | undefined;
    if (title?.type !== 'plain_text' || typeof title.text !== 'string') {
      return { error: invalidArgs('missing required field: title [json-pointer:/view/title]') };
    }
    if (title.text.length > 24)
      return { error: invalidArgs('must be less than 25 characters [json-pointer:/view/title/text]') };
    if (!Array.isArray(v.blocks))
      return { error: invalidArgs('missing required field: blocks [json-pointer:/view/blocks]') };
    if (v.blocks.length > 100)
      return { error: invalidArgs('no more than 100 items allowed [json-pointer:/view/blocks]') };
    const hasInput = v.blocks.some((b) => (b as { type?: unknown } | null)?.type === 'input');
    if (hasInput && v.submit === undefined) {
      return {
        error: invalidArgs('must provide a submit property when using input blocks [json-pointer:/view]'),
      };
    }
    if (typeof v.private_metadata === 'string' && v.private_metadata.length > 3000) {
      return {
        error: invalidArgs('must be less than 3001 characters [json-pointer:/view/private_metadata]'),
      };
    }
    if (typeof v.callback_id === 'string' && v.callback_id.length > 255) {
      return { error: invalidArgs('must be less than 256 characters [json-pointer:/view/callback_id]') };
    }
    return { view: v };
  }

  private useTrigger(raw: unknown): ApiResult | undefined {
    const triggerId = str(raw);
    if (!triggerId)
      return fail('invalid_arguments', {
        response_metadata: { messages: ['[ERROR] missing required field: trigger_id'] },
      });
    const t = this.triggers.get(triggerId);
    if (!t) return fail('invalid_trigger_id');
    if (t.used || this.now() - t.createdAt > this.opts.triggerTtlMs) return fail('expired_trigger_id');
    t.used = true;
    return undefined;
  }

  private materializeView(
    input: JsonObject,
    id: string,
    previousViewId: string | null,
    rootViewId: string,
  ): JsonObject {
    return {
      id,
      team_id: this.teamId,
      type: input.type,
      blocks: input.blocks,
      private_metadata: str(input.private_metadata) ?? '',
      callback_id: str(input.callback_id) ?? '',
      state: { values: {} },
      hash: `${Math.floor(this.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      title: input.title,
      clear_on_close: input.clear_on_close === true,
      notify_on_close: input.notify_on_close === true,
      close: input.close ?? null,
      submit: input.submit ?? null,
      previous_view_id: previousViewId,
      root_view_id: rootViewId,
      app_id: this.appId,
      external_id: str(input.external_id) ?? '',
      app_installed_team_id: this.teamId,
      bot_id: this.botId,
    };
  }

  private viewsOpenOrPush(method: 'views.open' | 'views.push', args: JsonObject): ApiResult {
    const checked = this.validateView(args.view);
    if ('error' in checked) return checked.error;
    const triggerError = this.useTrigger(args.trigger_id);
    if (triggerError) return triggerError;
    const id = this.nextId('V');
    let previous: string | null = null;
    let root = id;
    if (method === 'views.push') {
      // Pushed onto the most recent open modal; Slack allows a stack of 3.
      const last = [...this.viewLog].reverse().find((v) => v.method !== 'views.update');
      if (last) {
        const top = this.viewStore.get(last.view_id);
        previous = last.view_id;
        root = str(top?.root_view_id) ?? last.view_id;
        const depth = this.viewLog.filter(
          (v) => v.method === 'views.push' && str(this.viewStore.get(v.view_id)?.root_view_id) === root,
        ).length;
        if (depth >= 2) return fail('push_limit_reached');
      }
    }
    const view = this.materializeView(checked.view, id, previous, root);
    this.viewStore.set(id, view);
    const record: ViewRecord = { method, view_id: id, view: clone(view), at: this.now() };
    const trig = str(args.trigger_id);
    if (trig) record.trigger_id = trig;
    this.viewLog.push(record);
    return { ok: true, view };
  }

  private viewsUpdate(args: JsonObject): ApiResult {
    const viewId = str(args.view_id);
    const externalId = str(args.external_id);
    if (!viewId && !externalId) return invalidArgs('either view_id or external_id is required');
    const current = viewId
      ? this.viewStore.get(viewId)
      : [...this.viewStore.values()].find((v) => v.external_id === externalId);
    if (!current) return fail('not_found');
    const hash = str(args.hash);
    if (hash !== undefined && hash !== '' && hash !== current.hash) return fail('hash_conflict');
    const checked = this.validateView(args.view);
    if ('error' in checked) return checked.error;
    const id = str(current.id)!;
    const view = this.materializeView(
      checked.view,
      id,
      (current.previous_view_id as string | null) ?? null,
      str(current.root_view_id) ?? id,
    );
    this.viewStore.set(id, view);
    this.viewLog.push({ method: 'views.update', view_id: id, view: clone(view), at: this.now() });
    return { ok: true, view };
  }

  private filesInfo(args: JsonObject): ApiResult {
    const id = str(args.file);
    const f = id ? this.files.get(id) : undefined;
    if (!f) return fail('file_not_found');
    return { ok: true, file: clone(f.file), comments: [], response_metadata: { next_cursor: '' } };
  }

  private filesGetUploadUrlExternal(args: JsonObject): ApiResult {
    const filename = str(args.filename);
    if (!filename) return invalidArgs('missing required field: filename');
    const lengthRaw = str(args.length);
    const length = lengthRaw === undefined ? Number.NaN : Number(lengthRaw);
    if (lengthRaw === undefined) return invalidArgs('missing required field: length');
    if (!Number.isInteger(length) || length < 1) return invalidArgs('invalid value for length');
    const fileId = this.nextId('F');
    const key = `${this.teamId}/${fileId}/${randomBytes(12).toString('hex')}`;
    const pending: PendingUpload = { fileId, filename, length, key, completed: false };
    const alt = str(args.alt_text ?? args.alt_txt);
    if (alt) pending.altText = alt;
    const snippet = str(args.snippet_type);
    if (snippet) pending.snippetType = snippet;
    this.pendingUploads.set(fileId, pending);
    this.uploadsByKey.set(key, pending);
    return { ok: true, upload_url: `${this.baseUrl}/upload/v1/${key}`, file_id: fileId };
  }

  private async handleUpload(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const pending = this.uploadsByKey.get(key);
    if (req.method !== 'POST' || !pending) return sendText(res, 404, 'not found');
    const body = await readBody(req);
    const contentType = headerValue(req.headers, 'content-type');
    let bytes = body;
    let encoding: UploadRecord['encoding'] = 'raw';
    let partName: string | undefined;
    if (contentType?.toLowerCase().startsWith('multipart/form-data')) {
      const parts = await parseMultipart(body, contentType);
      // @slack/web-api 8 posts `FormData` with the file Blob in a field named `body`; accept any file part.
      const filePart = parts.find((p) => typeof p.value !== 'string') ?? parts[0];
      if (!filePart) return sendText(res, 400, 'no file part');
      bytes = typeof filePart.value === 'string' ? Buffer.from(filePart.value) : filePart.value;
      encoding = 'multipart';
      partName = filePart.name;
    }
    const record: UploadRecord = {
      fileId: pending.fileId,
      filename: pending.filename,
      declaredLength: pending.length,
      encoding,
      contentType,
      bytes: Buffer.from(bytes),
      authorization: headerValue(req.headers, 'authorization'),
    };
    if (partName !== undefined) record.partName = partName;
    pending.upload = record;
    sendText(res, 200, `OK - ${bytes.length}`);
  }

  private filesCompleteUploadExternal(args: JsonObject): ApiResult {
    const parsed = jsonArg(args.files);
    if (!parsed.ok || !Array.isArray(parsed.value) || parsed.value.length === 0) {
      return invalidArgs('missing required field: files');
    }
    const entries = parsed.value as Array<{ id?: unknown; title?: unknown }>;
    const uploads: Array<{ pending: PendingUpload; title: string }> = [];
    for (const e of entries) {
      const id = str(e?.id);
      const pending = id ? this.pendingUploads.get(id) : undefined;
      if (!pending?.upload || pending.completed) return fail('file_not_found');
      uploads.push({ pending, title: str(e.title) ?? pending.filename });
    }
    const channelArg = str(args.channel_id) ?? str(args.channels)?.split(',')[0];
    let channel: FakeChannel | undefined;
    if (channelArg) {
      const ch = this.resolveChannel(channelArg);
      if ('error' in ch) return ch.error;
      if (!ch.channel.is_member) return fail('not_in_channel');
      channel = ch.channel;
    }
    const threadTs = str(args.thread_ts);
    if (threadTs && !channel) return invalidArgs('thread_ts requires channel_id');
    const initialComment = str(args.initial_comment);
    const blocks = jsonArg(args.blocks);
    if (!blocks.ok) return fail('invalid_blocks');

    const files: SlackFile[] = [];
    for (const { pending, title } of uploads) {
      const bytes = pending.upload!.bytes;
      const mimetype = mimeFor(pending.filename);
      const file = this.buildFile(pending.fileId, {
        name: pending.filename,
        title,
        mimetype,
        filetype: filetypeFor(pending.filename, mimetype),
        size: bytes.length,
        user: this.botUserId,
      });
      if (pending.altText) file.alt_txt = pending.altText;
      if (channel) file.channels = [channel.id];
      pending.completed = true;
      this.files.set(pending.fileId, { file, bytes });
      files.push(file);
    }
    if (channel) {
      const msg: FakeMessage = {
        type: 'message',
        channel: channel.id,
        ts: this.nextTs(),
        text: initialComment ?? '',
        ...this.botMessageFields(),
        files: files.map(clone),
        upload: true,
        display_as_bot: false,
        source: 'files.completeUploadExternal',
      };
      // Slack ignores blocks when initial_comment is set.
      if (!initialComment && Array.isArray(blocks.value)) msg.blocks = blocks.value;
      if (threadTs) {
        msg.thread_ts = threadTs;
        this.addReply(this.findMessage(channel.id, threadTs), msg);
      }
      this.messageStore.push(msg);
      for (const f of files) {
        const stored = this.files.get(f.id)!;
        stored.file.shares = {
          [channel.is_private ? 'private' : 'public']: {
            [channel.id]: [{ ts: msg.ts, ...(threadTs ? { thread_ts: threadTs } : {}), reply_users: [] }],
          },
        };
      }
    }
    return { ok: true, files: uploads.map(({ pending, title }) => ({ id: pending.fileId, title })) };
  }

  private reactionsAdd(args: JsonObject): ApiResult {
    const ch = this.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    const ts = str(args.timestamp);
    const msg = ts ? this.findMessage(ch.channel.id, ts) : undefined;
    if (!msg) return fail('message_not_found');
    const name = str(args.name);
    if (!name || name.includes(':')) return fail('invalid_name');
    msg.reactions ??= [];
    const r = msg.reactions.find((x) => x.name === name);
    if (r?.users.includes(this.botUserId)) return fail('already_reacted');
    if (r) {
      r.users.push(this.botUserId);
      r.count += 1;
    } else msg.reactions.push({ name, users: [this.botUserId], count: 1 });
    return { ok: true };
  }

  private reactionsRemove(args: JsonObject): ApiResult {
    const ch = this.resolveChannel(args.channel);
    if ('error' in ch) return ch.error;
    const ts = str(args.timestamp);
    const msg = ts ? this.findMessage(ch.channel.id, ts) : undefined;
    if (!msg) return fail('message_not_found');
    const name = str(args.name);
    const r = msg.reactions?.find((x) => x.name === name);
    if (!r?.users.includes(this.botUserId)) return fail('no_reaction');
    r.users = r.users.filter((u) => u !== this.botUserId);
    r.count -= 1;
    if (r.count === 0) msg.reactions = msg.reactions!.filter((x) => x !== r);
    return { ok: true };
  }

  private conversationsInfo(args: JsonObject): ApiResult {
    const given = str(args.channel);
    const c = given ? this.channels.get(this.normalizeChannelId(given)) : undefined;
    if (!c) return fail('channel_not_found');
    return {
      ok: true,
      channel: {
        id: c.id,
        name: c.name,
        is_channel: !c.is_im && !c.is_private,
        is_group: false,
        is_im: c.is_im,
        is_mpim: false,
        is_private: c.is_private,
        is_archived: false,
        is_general: c.id === this.defaultChannelId,
        is_member: c.is_member,
        created: 1_700_000_000,
        context_team_id: this.teamId,
      },
    };
  }

  private usersInfo(args: JsonObject): ApiResult {
    const id = str(args.user);
    const u = id ? this.users.get(id) : undefined;
    if (!u) return fail('user_not_found');
    return {
      ok: true,
      user: {
        id: u.id,
        team_id: this.teamId,
        name: u.name,
        deleted: u.deleted ?? false,
        real_name: u.real_name,
        tz: u.tz,
        is_bot: u.is_bot,
        is_app_user: false,
        is_admin: u.is_admin ?? false,
        is_owner: u.is_owner ?? false,
        is_primary_owner: false,
        profile: {
          real_name: u.real_name,
          display_name: u.name,
          ...(u.is_bot ? { bot_id: this.botId } : {}),
          team: this.teamId,
        },
      },
    };
  }

  private appsConnectionsOpen(): ApiResult {
    const ticket = this.socket.issueTicket();
    return { ok: true, url: `ws://127.0.0.1:${this.port}/link/?ticket=${ticket}&app_id=${this.appId}` };
  }

  // ---------------------------------------------------------------- file hosting & response_url

  private handleFileGet(req: IncomingMessage, res: ServerResponse, path: string): void {
    // /files-pri/<team>-<file id>/[download/]<name>
    const seg = path.split('/')[2] ?? '';
    const fileId = seg.slice(seg.lastIndexOf('-') + 1);
    const stored = this.files.get(fileId);
    const authorized = bearerToken(req.headers) === this.botToken;
    if (!authorized) {
      this.fileFetchLog.push({ fileId, authorized, status: 200, at: this.now() });
      sendText(res, 200, LOGIN_PAGE, 'text/html; charset=utf-8');
      return;
    }
    if (!stored) {
      this.fileFetchLog.push({ fileId, authorized, status: 404, at: this.now() });
      sendText(res, 404, 'file not found');
      return;
    }
    this.fileFetchLog.push({ fileId, authorized, status: 200, at: this.now() });
    const headers: Record<string, string> = {
      'content-type': stored.file.mimetype,
      'content-length': String(stored.bytes.length),
    };
    if (path.includes('/download/')) {
      headers['content-disposition'] = `attachment; filename="${stored.file.name.replace(/"/g, '')}"`;
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : stored.bytes);
  }

  private async handleResponseUrl(
    req: IncomingMessage,
    res: ServerResponse,
    state: ResponseUrlState,
  ): Promise<void> {
    const raw = (await readBody(req)).toString('utf8');
    const ct = headerValue(req.headers, 'content-type') ?? '';
    let body: unknown;
    if (ct.startsWith('application/json')) body = parseMaybeJson(raw);
    else body = Object.fromEntries(new URLSearchParams(raw));
    const post: ResponseUrlPost = { url: state.url, id: state.id, body, status: 200, at: this.now() };
    let error: string | undefined;
    if (this.now() - state.createdAt > this.opts.responseUrlTtlMs) error = 'expired_url';
    else if (state.uses >= this.opts.responseUrlMaxUses) error = 'used_url';
    else if (body === null || typeof body !== 'object') error = 'invalid_payload';
    if (error) {
      post.status = 404;
      post.error = error;
      this.responseUrlLog.push(post);
      sendJson(res, 404, { ok: false, error });
      return;
    }
    state.uses += 1;
    this.responseUrlLog.push(post);
    const b = body as JsonObject;
    const text = str(b.text) ?? '';
    const blocks = Array.isArray(b.blocks) ? (b.blocks as unknown[]) : undefined;
    if (state.channel !== undefined && b.delete_original !== true && b.replace_original !== true) {
      if (b.response_type === 'in_channel') {
        const msg: FakeMessage = {
          type: 'message',
          channel: this.normalizeChannelId(state.channel),
          ts: this.nextTs(),
          text,
          ...this.botMessageFields(),
          source: 'response_url',
        };
        if (blocks) msg.blocks = blocks;
        const threadTs = str(b.thread_ts);
        if (threadTs) msg.thread_ts = threadTs;
        this.messageStore.push(msg);
      } else {
        const e: EphemeralMessage = {
          channel: state.channel,
          user: state.user ?? this.defaultUserId,
          text,
          message_ts: this.nextTs(),
          source: 'response_url',
        };
        if (blocks) e.blocks = blocks;
        this.ephemeralLog.push(e);
      }
    }
    sendJson(res, 200, { ok: true });
  }

  // ---------------------------------------------------------------- inbound delivery

  /**
   * Deliver a payload to the app the way Slack does and return the app's answer.
   *
   * - `{mode:'http', url, signingSecret}`: POST to the Bolt receiver URL, signed. `slash_commands` are
   *   form-encoded fields, `interactive` is form-encoded `payload=<json>`, `events_api` is the JSON
   *   event_callback. The answer is the HTTP response (status, parsed body).
   * - `{mode:'socket'}`: a Socket Mode envelope on the newest open connection; the answer is the ack's
   *   `payload` (undefined for a bare ack()).
   */
  async deliver(
    target: DeliveryTarget,
    kind: DeliveryKind,
    payload: object,
    options: DeliverOptions = {},
  ): Promise<DeliveryResult> {
    if (target.mode === 'http') return this.deliverHttp(target, kind, payload as JsonObject, options);
    return this.deliverSocket(target, kind, payload as JsonObject, options);
  }

  private async deliverHttp(
    target: Extract<DeliveryTarget, { mode: 'http' }>,
    kind: DeliveryKind,
    payload: JsonObject,
    options: DeliverOptions,
  ): Promise<DeliveryResult> {
    let body: string;
    let contentType: string;
    if (kind === 'slash_commands') {
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(payload)) if (v !== undefined && v !== null) fields[k] = String(v);
      body = new URLSearchParams(fields).toString();
      contentType = 'application/x-www-form-urlencoded';
    } else if (kind === 'interactive') {
      body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
      contentType = 'application/x-www-form-urlencoded';
    } else {
      body = JSON.stringify(payload);
      contentType = 'application/json';
    }
    const headers: Record<string, string> = {
      'content-type': contentType,
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      accept: '*/*',
    };
    if (!options.unsigned) {
      const ts = options.timestamp ?? Math.floor(Date.now() / 1000);
      Object.assign(headers, signedHeaders(options.signWith ?? target.signingSecret, body, ts));
      if (options.signature !== undefined) headers['x-slack-signature'] = options.signature;
    }
    if (options.retryNum !== undefined) {
      headers['x-slack-retry-num'] = String(options.retryNum);
      headers['x-slack-retry-reason'] = options.retryReason ?? 'http_timeout';
    }
    const res = await postRaw(target.url, headers, body, 15_000);
    return {
      mode: 'http',
      acked: res.status >= 200 && res.status < 300,
      status: res.status,
      body: parseMaybeJson(res.text),
      text: res.text,
      headers: res.headers,
    };
  }

  private async deliverSocket(
    target: Extract<DeliveryTarget, { mode: 'socket' }>,
    kind: DeliveryKind,
    payload: JsonObject,
    options: DeliverOptions,
  ): Promise<DeliveryResult> {
    const envelopeId = randomUUID();
    const acceptsDefault =
      kind === 'slash_commands' ||
      (kind === 'interactive' && (payload.type === 'view_submission' || payload.type === 'block_suggestion'));
    const envelope: JsonObject & { envelope_id: string } = {
      envelope_id: envelopeId,
      payload,
      type: kind,
      accepts_response_payload: options.acceptsResponsePayload ?? acceptsDefault,
    };
    if (kind === 'events_api') {
      envelope.retry_attempt = options.retryNum ?? 0;
      envelope.retry_reason = options.retryNum ? (options.retryReason ?? 'timeout') : '';
    }
    const ack = await this.socket.send(
      envelope,
      options.ackTimeoutMs ?? this.opts.socketAckTimeoutMs,
      target.connectionId,
    );
    if (ack === undefined)
      return { mode: 'socket', acked: false, status: 0, body: undefined, text: '', envelopeId };
    const empty = Object.keys(ack).length === 0;
    return {
      mode: 'socket',
      acked: true,
      status: 200,
      body: empty ? undefined : ack,
      text: empty ? '' : JSON.stringify(ack),
      envelopeId,
    };
  }

  // ---------------------------------------------------------------- payload builders

  private userRef(userId: string): UserPayloadRef {
    const u = this.users.get(userId) ?? this.addUser({ id: userId });
    return { id: u.id, username: u.name, name: u.name, team_id: this.teamId };
  }

  private channelRef(channelId: string): { id: string; name: string } {
    const id = this.normalizeChannelId(channelId);
    const c = this.channels.get(id) ?? this.addChannel({ id });
    return { id: c.id, name: c.name };
  }

  private teamRef(): { id: string; domain: string } {
    return { id: this.teamId, domain: this.teamDomain };
  }

  /** Slash command body (all string fields, as Slack form-encodes them), with a fresh trigger_id and response_url. */
  slashCommand(
    p: {
      command?: string;
      text?: string;
      user_id?: string;
      channel_id?: string;
      team_id?: string;
      trigger_id?: string;
      response_url?: string;
    } = {},
  ): SlashCommandPayload {
    const userId = p.user_id ?? this.defaultUserId;
    const channel = this.channelRef(p.channel_id ?? this.defaultChannelId);
    const user = this.userRef(userId);
    return {
      token: this.verificationToken,
      team_id: p.team_id ?? this.teamId,
      team_domain: this.teamDomain,
      channel_id: channel.id,
      channel_name: channel.name,
      user_id: user.id,
      user_name: user.name,
      command: p.command ?? '/animate',
      text: p.text ?? '',
      api_app_id: this.appId,
      is_enterprise_install: 'false',
      response_url: p.response_url ?? this.responseUrl('commands', { channel: channel.id, user: user.id }),
      trigger_id: p.trigger_id ?? this.triggerId(),
    };
  }

  /** `{type:'file_input', files}` state value; entries given as bytes are registered with addFile first. */
  fileInput(
    files: Array<SlackFile | { bytes: Buffer | Uint8Array | string; name: string; mimetype?: string }>,
  ): {
    type: 'file_input';
    files: SlackFile[];
  } {
    return {
      type: 'file_input',
      files: files.map((f) =>
        Buffer.isBuffer(f.bytes) || f.bytes instanceof Uint8Array || typeof f.bytes === 'string'
          ? this.addFile(f.bytes, f as AddFileOptions)
          : clone(f as SlackFile),
      ),
    };
  }

  textInput(value: string | null): { type: 'plain_text_input'; value: string | null } {
    return { type: 'plain_text_input', value };
  }

  /**
   * view_submission payload. With `view_id` of a view the app opened, the submitted view is that view;
   * otherwise one is synthesised from `callback_id` / `private_metadata` / `blocks`.
   */
  viewSubmission(p: {
    view_id?: string;
    callback_id?: string;
    private_metadata?: string;
    blocks?: unknown[];
    values: Record<string, Record<string, unknown>>;
    user_id?: string;
    trigger_id?: string;
  }): JsonObject {
    const user = this.userRef(p.user_id ?? this.defaultUserId);
    let base = p.view_id ? this.viewStore.get(p.view_id) : undefined;
    if (p.view_id && !base) throw new Error(`fake Slack: unknown view ${p.view_id}`);
    if (!base) {
      const id = this.nextId('V');
      base = this.materializeView(
        {
          type: 'modal',
          title: { type: 'plain_text', text: 'Animate' },
          submit: { type: 'plain_text', text: 'Submit' },
          blocks: p.blocks ?? [],
          callback_id: p.callback_id ?? 'animate_modal',
          private_metadata: p.private_metadata ?? '',
        },
        id,
        null,
        id,
      );
    }
    const view: JsonObject = { ...clone(base), state: { values: clone(p.values) } };
    if (p.callback_id !== undefined) view.callback_id = p.callback_id;
    if (p.private_metadata !== undefined) view.private_metadata = p.private_metadata;
    return {
      type: 'view_submission',
      team: this.teamRef(),
      user,
      api_app_id: this.appId,
      token: this.verificationToken,
      trigger_id: p.trigger_id ?? this.triggerId(),
      view,
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    };
  }

  /** block_actions payload for a button (or other element) click on a message. */
  blockAction(p: {
    action_id: string;
    value?: string;
    block_id?: string;
    type?: string;
    text?: string;
    channel_id?: string;
    message_ts?: string;
    message?: JsonObject;
    user_id?: string;
    trigger_id?: string;
  }): JsonObject {
    const channel = this.channelRef(p.channel_id ?? this.defaultChannelId);
    const user = this.userRef(p.user_id ?? this.defaultUserId);
    const stored = p.message_ts ? this.findMessage(channel.id, p.message_ts) : undefined;
    const message: JsonObject = p.message
      ? clone(p.message)
      : stored
        ? this.publicMessage(stored)
        : { type: 'message', ts: p.message_ts ?? this.nextTs(), text: '', ...this.botMessageFields() };
    const messageTs = str(message.ts)!;
    const action: JsonObject = {
      action_id: p.action_id,
      block_id: p.block_id ?? `blk_${p.action_id}`,
      type: p.type ?? 'button',
      action_ts: `${(this.now() / 1000).toFixed(6)}`,
    };
    if (action.type === 'button')
      action.text = { type: 'plain_text', text: p.text ?? p.action_id, emoji: true };
    if (p.value !== undefined) action.value = p.value;
    return {
      type: 'block_actions',
      user,
      api_app_id: this.appId,
      token: this.verificationToken,
      container: { type: 'message', message_ts: messageTs, channel_id: channel.id, is_ephemeral: false },
      trigger_id: p.trigger_id ?? this.triggerId(),
      team: this.teamRef(),
      enterprise: null,
      is_enterprise_install: false,
      channel,
      message,
      state: { values: {} },
      response_url: this.responseUrl('actions', { channel: channel.id, user: user.id }),
      actions: [action],
    };
  }

  /** message_action (message shortcut) payload; `message` defaults to the stored message at `message_ts`. */
  messageShortcut(p: {
    callback_id: string;
    channel_id?: string;
    message_ts?: string;
    message?: JsonObject;
    user_id?: string;
    trigger_id?: string;
  }): JsonObject {
    const channel = this.channelRef(p.channel_id ?? this.defaultChannelId);
    const user = this.userRef(p.user_id ?? this.defaultUserId);
    const stored = p.message_ts ? this.findMessage(channel.id, p.message_ts) : undefined;
    const message: JsonObject | undefined = p.message
      ? clone(p.message)
      : stored
        ? this.publicMessage(stored)
        : undefined;
    if (!message)
      throw new Error('fake Slack: messageShortcut needs `message` or the ts of a stored message');
    return {
      type: 'message_action',
      token: this.verificationToken,
      action_ts: `${(this.now() / 1000).toFixed(6)}`,
      team: this.teamRef(),
      user,
      channel,
      is_enterprise_install: false,
      enterprise: null,
      callback_id: p.callback_id,
      trigger_id: p.trigger_id ?? this.triggerId(),
      response_url: this.responseUrl('actions', { channel: channel.id, user: user.id }),
      message_ts: str(message.ts)!,
      message,
    };
  }

  /** The Events API request-URL handshake; Bolt answers `{challenge}`. Deliver as `events_api` over HTTP. */
  urlVerification(challenge = randomBytes(16).toString('hex')): JsonObject {
    return { token: this.verificationToken, challenge, type: 'url_verification' };
  }

  /** Wrap an event in an `event_callback` body with a fresh event_id. */
  eventCallback(event: JsonObject): EventCallbackPayload {
    const sec = Math.floor(this.now() / 1000);
    return {
      token: this.verificationToken,
      team_id: this.teamId,
      context_team_id: this.teamId,
      context_enterprise_id: null,
      api_app_id: this.appId,
      event,
      type: 'event_callback',
      event_id: this.nextId('Ev'),
      event_time: sec,
      authorizations: [
        {
          enterprise_id: null,
          team_id: this.teamId,
          user_id: this.botUserId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
      event_context: `4-${randomBytes(16).toString('base64url')}`,
    };
  }

  /** A user message stored in the channel (so shortcuts, actions and reactions can refer to it). */
  postUserMessage(p: {
    text?: string;
    files?: SlackFile[];
    channel_id?: string;
    user_id?: string;
    thread_ts?: string;
  }): FakeMessage {
    const channel = this.channelRef(p.channel_id ?? this.defaultChannelId);
    const user = this.userRef(p.user_id ?? this.defaultUserId);
    const msg: FakeMessage = {
      type: 'message',
      channel: channel.id,
      ts: this.nextTs(),
      text: p.text ?? '',
      user: user.id,
      team: this.teamId,
      client_msg_id: randomUUID(),
      source: 'inbound',
    };
    if (p.files?.length) {
      msg.files = p.files.map(clone);
      msg.upload = true;
      msg.display_as_bot = false;
      for (const f of p.files) {
        const stored = this.files.get(f.id);
        if (stored) stored.file.channels = [...new Set([...(stored.file.channels ?? []), channel.id])];
      }
    }
    if (p.thread_ts) {
      msg.thread_ts = p.thread_ts;
      this.addReply(this.findMessage(channel.id, p.thread_ts), msg);
    }
    this.messageStore.push(msg);
    return clone(msg);
  }

  /** app_mention event_callback (stores the message in the channel). Text defaults to `<@bot> …`. */
  appMention(
    p: { text?: string; files?: SlackFile[]; channel_id?: string; user_id?: string; thread_ts?: string } = {},
  ): EventCallbackPayload {
    const msg = this.postUserMessage({ ...p, text: p.text ?? `<@${this.botUserId}> animate this` });
    const event: JsonObject = {
      type: 'app_mention',
      user: msg.user,
      text: msg.text,
      ts: msg.ts,
      channel: msg.channel,
      event_ts: msg.ts,
      team: this.teamId,
      client_msg_id: msg.client_msg_id,
    };
    if (msg.files) {
      event.files = msg.files;
      event.upload = true;
      event.display_as_bot = false;
    }
    if (msg.thread_ts) event.thread_ts = msg.thread_ts;
    return this.eventCallback(event);
  }

  /** message event_callback; with files it is the `file_share` subtype Slack sends for uploads. */
  messageEvent(
    p: { text?: string; files?: SlackFile[]; channel_id?: string; user_id?: string; thread_ts?: string } = {},
  ): EventCallbackPayload {
    const msg = this.postUserMessage(p);
    const c = this.channels.get(msg.channel);
    const event: JsonObject = {
      type: 'message',
      text: msg.text,
      user: msg.user,
      ts: msg.ts,
      channel: msg.channel,
      event_ts: msg.ts,
      channel_type: c?.is_im ? 'im' : c?.is_private ? 'group' : 'channel',
      team: this.teamId,
    };
    if (msg.files) {
      event.subtype = 'file_share';
      event.files = msg.files;
      event.upload = true;
      event.display_as_bot = false;
    } else {
      event.client_msg_id = msg.client_msg_id;
    }
    if (msg.thread_ts) event.thread_ts = msg.thread_ts;
    return this.eventCallback(event);
  }

  /** reaction_added event_callback. `item_user` defaults to the reacted message's author (or the bot). */
  reactionAdded(p: {
    reaction: string;
    item: { channel: string; ts: string };
    item_user?: string;
    user?: string;
  }): EventCallbackPayload {
    const channel = this.normalizeChannelId(p.item.channel);
    const target = this.findMessage(channel, p.item.ts);
    const user = p.user ?? this.defaultUserId;
    if (target) {
      target.reactions ??= [];
      const r = target.reactions.find((x) => x.name === p.reaction);
      if (r && !r.users.includes(user)) {
        r.users.push(user);
        r.count += 1;
      } else if (!r) target.reactions.push({ name: p.reaction, users: [user], count: 1 });
    }
    return this.eventCallback({
      type: 'reaction_added',
      user,
      reaction: p.reaction,
      item_user: p.item_user ?? target?.user ?? this.botUserId,
      item: { type: 'message', channel, ts: p.item.ts },
      event_ts: this.nextTs(),
    });
  }
}

export interface SlashCommandPayload {
  token: string;
  team_id: string;
  team_domain: string;
  channel_id: string;
  channel_name: string;
  user_id: string;
  user_name: string;
  command: string;
  text: string;
  api_app_id: string;
  is_enterprise_install: string;
  response_url: string;
  trigger_id: string;
  [key: string]: string;
}

export interface EventCallbackPayload {
  token: string;
  team_id: string;
  api_app_id: string;
  event: JsonObject;
  type: 'event_callback';
  event_id: string;
  event_time: number;
  authorizations: JsonObject[];
  [key: string]: unknown;
}

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new FakeSlack(options);
  await fake.listen();
  return fake;
}
