/**
 * Public types of the fake Slack (see ./index.ts for an overview).
 *
 * Shapes follow the Slack Web API / Events API documentation and the types shipped with
 * @slack/bolt 5.1 and @slack/types; only fields a bot plausibly reads are filled in.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = Record<string, unknown>;

export interface FakeSlackOptions {
  /** Bot token every Web API method (except apps.connections.open) requires. Default `xoxb-fake-bot-token`. */
  botToken?: string;
  /** App-level token for apps.connections.open (Socket Mode). Default `xapp-1-A0FAKEAPP-fake-app-token`. */
  appToken?: string;
  teamId?: string;
  teamDomain?: string;
  appId?: string;
  botId?: string;
  botUserId?: string;
  botName?: string;
  /** Verification token copied into payloads (deprecated by Slack, still sent). */
  verificationToken?: string;
  /** Lifetime of a trigger_id. Default 3000 ms (Slack: "expires in 3 seconds"). */
  triggerTtlMs?: number;
  /** response_url: at most this many uses. Default 5. */
  responseUrlMaxUses?: number;
  /** response_url lifetime. Default 30 minutes. */
  responseUrlTtlMs?: number;
  /** How long `deliver()` in Socket Mode waits for the app's ack before reporting `acked: false`. Default 3000 ms. */
  socketAckTimeoutMs?: number;
  /**
   * Interval of server-initiated WebSocket pings (real Slack pings its Socket Mode clients).
   * 0 (default) sends none. Once the client has seen one ping it expects the next within its
   * `serverPingTimeout` (30 s by default), so keep this below that when enabled.
   */
  socketPingIntervalMs?: number;
  /** When true, unknown channel ids answer `channel_not_found`; otherwise channels spring into existence. */
  strictChannels?: boolean;
}

export interface SlackFile {
  id: string;
  created: number;
  timestamp: number;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  pretty_type: string;
  user: string;
  user_team: string;
  editable: boolean;
  size: number;
  mode: 'hosted';
  is_external: boolean;
  external_type: string;
  is_public: boolean;
  public_url_shared: boolean;
  display_as_bot: boolean;
  username: string;
  url_private: string;
  url_private_download: string;
  permalink: string;
  permalink_public: string;
  has_rich_preview: boolean;
  file_access: string;
  alt_txt?: string;
  channels?: string[];
  [key: string]: unknown;
}

export interface AddFileOptions {
  name: string;
  mimetype?: string;
  filetype?: string;
  title?: string;
  /** Uploader. Default: the default test user. */
  user?: string;
}

export interface FakeMessage {
  type: 'message';
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  user: string;
  bot_id?: string;
  app_id?: string;
  subtype?: string;
  blocks?: unknown[];
  attachments?: unknown[];
  files?: SlackFile[];
  upload?: boolean;
  edited?: { user: string; ts: string };
  reactions?: Array<{ name: string; users: string[]; count: number }>;
  reply_count?: number;
  metadata?: unknown;
  /** Where the message came from inside the fake. */
  source: 'chat.postMessage' | 'files.completeUploadExternal' | 'response_url' | 'inbound';
  [key: string]: unknown;
}

export interface MessageUpdate {
  at: number;
  text?: string;
  blocks?: unknown[];
  attachments?: unknown[];
  args: JsonObject;
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  text: string;
  blocks?: unknown[];
  thread_ts?: string;
  message_ts: string;
  source: 'chat.postEphemeral' | 'response_url';
}

export interface ViewRecord {
  method: 'views.open' | 'views.update' | 'views.push';
  trigger_id?: string;
  view_id: string;
  /** The view object as the fake returned it. */
  view: JsonObject;
  at: number;
}

export interface ApiCall {
  method: string;
  /** Arguments after decoding (form, JSON or multipart). JSON-looking form fields stay strings. */
  args: JsonObject;
  /** How the body arrived: `json`, `form`, `multipart` or `none`. */
  encoding: 'json' | 'form' | 'multipart' | 'none';
  /** Which token authenticated the call (`bot`, `app`, `invalid`, `none`). */
  auth: 'bot' | 'app' | 'invalid' | 'none';
  status: number;
  ok: boolean;
  error?: string;
  response: JsonObject;
  at: number;
}

export interface ResponseUrlPost {
  url: string;
  /** The id the fake assigned to the response_url. */
  id: string;
  body: unknown;
  status: number;
  error?: string;
  at: number;
}

export interface UploadRecord {
  fileId: string;
  filename: string;
  declaredLength: number;
  /** How the upload POST arrived: raw body or multipart (with the part's field name). */
  encoding: 'raw' | 'multipart';
  partName?: string;
  contentType: string | undefined;
  bytes: Buffer;
  authorization: string | undefined;
}

export type DeliveryKind = 'slash_commands' | 'interactive' | 'events_api';

export type DeliveryTarget =
  | { mode: 'http'; url: string; signingSecret: string }
  | {
      mode: 'socket' /** Pick a specific connection (see `socketConnections()`); default: newest open one. */;
      connectionId?: string;
    };

export interface DeliverOptions {
  /** HTTP: sent as X-Slack-Retry-Num; Socket Mode: the envelope's `retry_attempt`. */
  retryNum?: number;
  /** HTTP: X-Slack-Retry-Reason; Socket Mode: `retry_reason`. Default `http_timeout` when retryNum > 0. */
  retryReason?: string;
  /** HTTP only: X-Slack-Request-Timestamp in seconds (default now). Use an old one to test staleness. */
  timestamp?: number;
  /** HTTP only: sign with this secret instead of the target's. */
  signWith?: string;
  /** HTTP only: send this exact X-Slack-Signature (forgery). */
  signature?: string;
  /** HTTP only: omit the signature headers entirely. */
  unsigned?: boolean;
  /** Socket Mode only: override `accepts_response_payload`. */
  acceptsResponsePayload?: boolean;
  /** Socket Mode only: ack wait (default options.socketAckTimeoutMs). */
  ackTimeoutMs?: number;
}

export interface DeliveryResult {
  mode: 'http' | 'socket';
  /** HTTP: 2xx; Socket Mode: the app sent an ack envelope in time. */
  acked: boolean;
  /** HTTP status; in Socket Mode 200 when acked, 0 when not. */
  status: number;
  /** Parsed JSON response/ack payload, a plain string, or undefined when empty. */
  body: unknown;
  /** Raw text of the response (HTTP) or of the ack payload JSON (Socket Mode). */
  text: string;
  envelopeId?: string;
  headers?: Record<string, string | string[] | undefined>;
}

export interface SocketConnectionInfo {
  id: string;
  openedAt: number;
  open: boolean;
  closedAt?: number;
  closeCode?: number;
}

export interface SocketEnvelopeRecord {
  connectionId: string;
  envelope: JsonObject;
  ack?: JsonObject;
}

export interface FakeUser {
  id: string;
  name: string;
  real_name: string;
  tz: string;
  is_bot: boolean;
  deleted?: boolean;
  /** Workspace admin / owner, as users.info reports them. */
  is_admin?: boolean;
  is_owner?: boolean;
}

export interface FakeChannel {
  id: string;
  name: string;
  is_private: boolean;
  is_im: boolean;
  is_member: boolean;
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
