import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChatApi } from './chat.js';
import { deliverHttp, deliverSocket } from './delivery.js';
import { DirectoryApi } from './directory.js';
import { EventPayloads } from './event-payloads.js';
import { type FileFetch, HostedFiles, LOGIN_PAGE } from './hosted-files.js';
import { sendText } from './http-util.js';
import { InteractionPayloads } from './interaction-payloads.js';
import { Faults } from './rate-limits.js';
import { ReactionsApi } from './reactions.js';
import { ResponseUrls } from './response-urls.js';
import { FakeSocketModeServer } from './socket-mode.js';
import type {
  AddFileOptions,
  ApiCall,
  DeliverOptions,
  DeliveryKind,
  DeliveryResult,
  DeliveryTarget,
  EphemeralMessage,
  EventCallbackPayload,
  FakeChannel,
  FakeMessage,
  FakeSlackOptions,
  FakeUser,
  JsonObject,
  MessageUpdate,
  ResponseUrlPost,
  SlackFile,
  SlashCommandPayload,
  SocketConnectionInfo,
  SocketEnvelopeRecord,
  UploadRecord,
  ViewRecord,
} from './types.js';
import { ExternalUploads } from './uploads.js';
import { ViewsApi } from './views.js';
import { WebApi } from './web-api.js';
import { clone } from './web-api-args.js';
import { SlackWorkspace } from './workspace.js';

/**
 * A protocol-faithful fake Slack for tests: Web API, file hosting, response_url, and the inbound side
 * (signed HTTP requests to a Bolt HTTPReceiver, or Socket Mode envelopes). This class is the front
 * door: it routes HTTP to the surface that owns each path and keeps the one API the tests use; each
 * surface lives in its own file (see ./index.ts).
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
  readonly defaultUserId: string;
  /** Default channel the payload builders use. */
  readonly defaultChannelId: string;

  private readonly ws: SlackWorkspace;
  private readonly server: Server;
  private readonly socket: FakeSocketModeServer;
  private port = 0;
  private readonly faults = new Faults();
  private readonly files: HostedFiles;
  private readonly uploads: ExternalUploads;
  private readonly chat: ChatApi;
  private readonly viewsApi: ViewsApi;
  private readonly responseUrls: ResponseUrls;
  private readonly webApi: WebApi;
  private readonly interactions: InteractionPayloads;
  private readonly events: EventPayloads;

  constructor(options: FakeSlackOptions = {}) {
    const ws = new SlackWorkspace(options);
    this.ws = ws;
    this.botToken = ws.botToken;
    this.appToken = ws.appToken;
    this.teamId = ws.teamId;
    this.teamDomain = ws.teamDomain;
    this.appId = ws.appId;
    this.botId = ws.botId;
    this.botUserId = ws.botUserId;
    this.botName = ws.botName;
    this.verificationToken = ws.verificationToken;
    this.defaultUserId = ws.defaultUserId;
    this.defaultChannelId = ws.defaultChannelId;

    this.files = new HostedFiles(ws);
    this.uploads = new ExternalUploads(ws, this.files);
    this.chat = new ChatApi(ws);
    this.viewsApi = new ViewsApi(ws);
    this.responseUrls = new ResponseUrls(ws);
    this.interactions = new InteractionPayloads(ws, this.files, this.viewsApi, this.responseUrls);
    this.events = new EventPayloads(ws, this.files);
    this.webApi = new WebApi(ws, this.faults, {
      chat: this.chat,
      views: this.viewsApi,
      files: this.files,
      uploads: this.uploads,
      reactions: new ReactionsApi(ws),
      directory: new DirectoryApi(ws),
      openConnection: () =>
        `ws://127.0.0.1:${this.port}/link/?ticket=${this.socket.issueTicket()}&app_id=${this.appId}`,
    });

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
    this.ws.baseUrl = this.baseUrl;
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
    return this.ws.now();
  }

  /** Move the fake's clock forward, e.g. past a trigger_id's 3 s lifetime, without sleeping. */
  advanceClock(ms: number): void {
    this.ws.advanceClock(ms);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const path = url.pathname;
    if (path.startsWith('/api/')) return this.webApi.handle(req, res, url);
    if (path.startsWith('/upload/v1/'))
      return this.uploads.receive(req, res, path.slice('/upload/v1/'.length));
    if (path.startsWith('/files-pri/') && (req.method === 'GET' || req.method === 'HEAD')) {
      return this.files.serve(req, res, path);
    }
    if (path.startsWith('/files/')) {
      // permalink: the web UI, a sign-in page for a bot
      return sendText(res, 200, LOGIN_PAGE, 'text/html; charset=utf-8');
    }
    if (await this.responseUrls.handle(req, res, path)) return;
    sendText(res, 404, 'not found');
  }

  // ---------------------------------------------------------------- workspace setup

  /** A fresh trigger_id, valid for one views.open / views.push within `triggerTtlMs`. */
  triggerId(): string {
    return this.ws.triggerId();
  }

  /** A fresh response_url pointing at the fake (5 uses within 30 minutes by default). */
  responseUrl(
    kind: 'commands' | 'actions' = 'commands',
    ctx: { channel?: string; user?: string } = {},
  ): string {
    return this.responseUrls.create(kind, ctx);
  }

  addUser(user: Partial<FakeUser> & { id: string }): FakeUser {
    return this.ws.addUser(user);
  }

  addChannel(channel: Partial<FakeChannel> & { id: string }): FakeChannel {
    return this.ws.addChannel(channel);
  }

  /** Register a file (as if a user uploaded it) and return the file object Slack would show. */
  addFile(bytes: Buffer | Uint8Array | string, options: AddFileOptions): SlackFile {
    return this.files.add(bytes, options);
  }

  // ---------------------------------------------------------------- fault switches (./rate-limits.ts)

  rateLimit(method: string, opts: { times?: number; retryAfterSeconds?: number } = {}): void {
    this.faults.rateLimit(method, opts);
  }

  failNext(method: string, error: string, times = 1): void {
    this.faults.failNext(method, error, times);
  }

  clearFaults(method?: string): void {
    this.faults.clear(method);
  }

  // ---------------------------------------------------------------- inspection

  /** Messages in a channel in posting order, thread replies and file shares included (deleted ones excluded). */
  messages(channel: string): FakeMessage[] {
    const id = this.ws.normalizeChannelId(channel);
    return this.ws.messageStore.filter((m) => m.channel === id && !this.ws.deletedMessages.has(m)).map(clone);
  }

  /** One message by ts (undefined when missing or deleted). */
  message(channel: string, ts: string): FakeMessage | undefined {
    const m = this.ws.findMessage(this.ws.normalizeChannelId(channel), ts);
    return m ? clone(m) : undefined;
  }

  /** Replies in a thread (not including the parent). */
  threadReplies(channel: string, threadTs: string): FakeMessage[] {
    return this.messages(channel).filter((m) => m.thread_ts === threadTs && m.ts !== threadTs);
  }

  /** chat.update history of one message, oldest first. */
  updates(channel: string, ts: string): MessageUpdate[] {
    return this.chat.updates(channel, ts);
  }

  ephemerals(channel?: string): EphemeralMessage[] {
    return this.ws.ephemeralLog.filter((e) => channel === undefined || e.channel === channel).map(clone);
  }

  /** views.open / views.push / views.update that succeeded, in order. */
  views(): ViewRecord[] {
    return this.viewsApi.views();
  }

  /** Current state of a view by id. */
  view(viewId: string): JsonObject | undefined {
    return this.viewsApi.view(viewId);
  }

  /** Bytes of a file uploaded through files.getUploadURLExternal + upload POST, or added with addFile. */
  uploadedFile(fileId: string): Buffer | undefined {
    return this.uploads.uploadedFile(fileId);
  }

  /** Details of the upload POST (encoding, part name, declared vs. received length). */
  uploadRecord(fileId: string): UploadRecord | undefined {
    return this.uploads.uploadRecord(fileId);
  }

  /** The file object as files.info would return it. */
  file(fileId: string): SlackFile | undefined {
    return this.files.file(fileId);
  }

  /** Web API calls (optionally of one method), with HTTP status and the fake's answer. */
  calls(method?: string): ApiCall[] {
    return this.webApi.calls(method);
  }

  responseUrlPosts(): ResponseUrlPost[] {
    return this.responseUrls.posts();
  }

  /** GETs of url_private / url_private_download and whether they carried the bot token. */
  fileFetches(): FileFetch[] {
    return this.files.fetches();
  }

  // ---------------------------------------------------------------- socket mode (./socket-mode.ts)

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

  // ---------------------------------------------------------------- inbound delivery (./delivery.ts)

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
    if (target.mode === 'http') return deliverHttp(target, kind, payload as JsonObject, options);
    const ackTimeoutMs = options.ackTimeoutMs ?? this.ws.rules.socketAckTimeoutMs;
    return deliverSocket(this.socket, target, kind, payload as JsonObject, { ...options, ackTimeoutMs });
  }

  // ---------------------------------------------------------------- payload builders (./*-payloads.ts)

  slashCommand(p: Parameters<InteractionPayloads['slashCommand']>[0] = {}): SlashCommandPayload {
    return this.interactions.slashCommand(p);
  }

  fileInput(
    files: Parameters<InteractionPayloads['fileInput']>[0],
  ): ReturnType<InteractionPayloads['fileInput']> {
    return this.interactions.fileInput(files);
  }

  textInput(value: string | null): { type: 'plain_text_input'; value: string | null } {
    return this.interactions.textInput(value);
  }

  viewSubmission(p: Parameters<InteractionPayloads['viewSubmission']>[0]): JsonObject {
    return this.interactions.viewSubmission(p);
  }

  blockAction(p: Parameters<InteractionPayloads['blockAction']>[0]): JsonObject {
    return this.interactions.blockAction(p);
  }

  messageShortcut(p: Parameters<InteractionPayloads['messageShortcut']>[0]): JsonObject {
    return this.interactions.messageShortcut(p);
  }

  urlVerification(challenge?: string): JsonObject {
    return this.events.urlVerification(challenge);
  }

  eventCallback(event: JsonObject): EventCallbackPayload {
    return this.events.eventCallback(event);
  }

  postUserMessage(p: Parameters<EventPayloads['postUserMessage']>[0]): FakeMessage {
    return this.events.postUserMessage(p);
  }

  appMention(p: Parameters<EventPayloads['appMention']>[0] = {}): EventCallbackPayload {
    return this.events.appMention(p);
  }

  messageEvent(p: Parameters<EventPayloads['messageEvent']>[0] = {}): EventCallbackPayload {
    return this.events.messageEvent(p);
  }

  reactionAdded(p: Parameters<EventPayloads['reactionAdded']>[0]): EventCallbackPayload {
    return this.events.reactionAdded(p);
  }
}

export async function startFakeSlack(options: FakeSlackOptions = {}): Promise<FakeSlack> {
  const fake = new FakeSlack(options);
  await fake.listen();
  return fake;
}
