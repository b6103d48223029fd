import type { PermissionInput } from './permissions.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface FakeUserInit {
  id?: string;
  username: string;
  globalName?: string | null;
  bot?: boolean;
}

export interface FakeRoleInit {
  id?: string;
  name: string;
  permissions?: PermissionInput;
  position?: number;
}

export interface FakeOverwriteInit {
  /** Role id or name, user id, or '@everyone'. */
  id: string;
  type: 'role' | 'member';
  allow?: PermissionInput;
  deny?: PermissionInput;
}

export interface FakeChannelInit {
  id?: string;
  name: string;
  /** Channel type; default 0 (GUILD_TEXT). */
  type?: number;
  topic?: string | null;
  nsfw?: boolean;
  overwrites?: FakeOverwriteInit[];
}

export interface FakeMemberInit {
  userId: string;
  /** Role ids or names. */
  roles?: string[];
  nick?: string | null;
}

export interface FakeGuildInit {
  id?: string;
  name?: string;
  /** Boost tier 0–3; tier 2 raises the upload limit to 50 MiB, tier 3 to 100 MiB. */
  premiumTier?: 0 | 1 | 2 | 3;
  ownerId?: string;
  preferredLocale?: string;
  /** Permissions of @everyone (default: Discord's defaults for a new server). */
  everyonePermissions?: PermissionInput;
  roles?: FakeRoleInit[];
  channels?: FakeChannelInit[];
  members?: FakeMemberInit[];
  /** Whether the bot user is a member (guild install). Default true. */
  botMember?: boolean;
  /** Roles (ids or names) of the bot member. */
  botRoles?: string[];
}

export interface FakeDiscordOptions {
  token?: string;
  applicationId?: string;
  /** Application flags sent in READY (default 0). */
  applicationFlags?: number;
  bot?: { id?: string; username?: string };
  users?: FakeUserInit[];
  /** Default: one guild "Fake Guild" with a #general text channel. */
  guilds?: FakeGuildInit[];
  /** Initial-response deadline in ms (default 3000). */
  interactionDeadlineMs?: number;
  /** Interaction token lifetime in ms (default 15 min). */
  interactionTokenTtlMs?: number;
  /** Default per-attachment upload limit (default 10 MiB). */
  uploadLimitBytes?: number;
  /** Upload limit per boost tier (default {2: 50 MiB, 3: 100 MiB}); the effective limit is the max with the default. */
  tierUploadLimits?: Partial<Record<0 | 1 | 2 | 3, number>>;
  /** Messages older than this count as "old" for the edit cap (default 1 h). */
  oldMessageAgeMs?: number;
  /** Edits to old messages allowed per channel per window (default 3 per 6000 ms), then 30046. */
  oldMessageEditLimit?: { count: number; windowMs: number };
  /** Lifetime of signed CDN URLs (default 24 h). */
  attachmentUrlTtlMs?: number;
  /** HELLO heartbeat_interval (default 41250 ms). */
  heartbeatIntervalMs?: number;
  /**
   * Discord's unpublished per-channel budget of message creates and edits through any route
   * (default 5 per 5000 ms, as the real service enforces; `false` turns it off). Never advertised in
   * headers; a request over it answers 429 with `X-RateLimit-Scope: shared`. See channel-budget.ts.
   */
  channelBudget?: { count: number; windowMs: number } | false;
  /** Per-bucket rate limit reported (and enforced) on REST routes (default 50 per 1000 ms). */
  bucketLimit?: number;
  bucketWindowMs?: number;
  /** Privileged intents the application may use (default all: GuildMembers | GuildPresences | MessageContent). */
  privilegedIntents?: number;
}

export interface AttachmentInput {
  bytes: Uint8Array;
  filename: string;
  contentType?: string;
  /** Override the dimensions the fake derives from PNG/GIF/JPEG/WebP bytes. */
  width?: number;
  height?: number;
  description?: string;
  /** The file disappears from the CDN after this many ms (ephemeral attachments). */
  expiresInMs?: number;
}

export type SlashOptionInput =
  | string
  | number
  | boolean
  | AttachmentInput
  | { type: number; value: string | number | boolean };

export interface InteractionContextInput {
  /** Guild id; default the first guild. `null` for a DM with the bot. */
  guildId?: string | null;
  /** Channel id; default the guild's first text channel (or the user's DM channel when guildId is null). */
  channelId?: string;
  userId: string;
  /** Default: the guild's limit by boost tier (at least the default upload limit). */
  attachmentSizeLimit?: number;
  /** Default: the bot member's computed permissions in the channel. */
  appPermissions?: PermissionInput;
  locale?: string;
  /** 0 GUILD, 1 BOT_DM, 2 PRIVATE_CHANNEL; default from guildId. */
  context?: 0 | 1 | 2;
  /** Default {"0": guildId} in a guild where the bot is a member, else {"1": userId}. */
  authorizingIntegrationOwners?: Record<string, string>;
}

export interface InvokeSlashCommandOptions extends InteractionContextInput {
  name: string;
  subcommand?: string;
  subcommandGroup?: string;
  /** Named option values; types inferred (string 3, integer 4, number 10, boolean 5, attachment 11). */
  options?: Record<string, SlashOptionInput>;
}

export interface InvokeMessageCommandOptions extends InteractionContextInput {
  name: string;
  targetMessageId: string;
}

export interface InvokeUserCommandOptions extends InteractionContextInput {
  name: string;
  targetUserId: string;
}

export interface ClickButtonOptions {
  messageId: string;
  customId: string;
  userId: string;
  locale?: string;
  attachmentSizeLimit?: number;
  appPermissions?: PermissionInput;
}

export interface SubmitModalOptions extends Partial<InteractionContextInput> {
  userId: string;
  /** The interaction that answered with the modal (callback type 9): custom_id and channel come from it. */
  fromInteractionId?: string;
  customId?: string;
  /** Text input custom_id → value. */
  fields: Record<string, string>;
}

export interface InvokedInteraction {
  id: string;
  token: string;
  applicationId: string;
  /** For attachment options: the hosted attachments. */
  attachments: { id: string; url: string; size: number }[];
  payload: JsonObject;
  /** When the gateway sent it (the fake's clock): an ack's latency runs from here to its callback's `at`. */
  dispatchedAt: number;
}

export interface CreateMessageOptions {
  channelId: string;
  authorId: string;
  content?: string;
  attachments?: AttachmentInput[];
  embeds?: Json[];
  components?: Json[];
  /** Make the message this many ms old. */
  ageMs?: number;
  /** Send MESSAGE_CREATE to connected clients (default true). */
  dispatch?: boolean;
}

export interface FakeAttachmentView {
  id: string;
  filename: string;
  size: number;
  contentType: string | null;
  width: number | null;
  height: number | null;
  ephemeral: boolean;
  url: string;
}

export interface FakeMessageView {
  id: string;
  channelId: string;
  guildId: string | null;
  authorId: string;
  webhookId: string | null;
  content: string;
  embeds: Json[];
  components: Json[];
  attachments: FakeAttachmentView[];
  reactions: { emoji: string; userIds: string[] }[];
  flags: number;
  type: number;
  createdAt: number;
  editedAt: number | null;
  ephemeral: boolean;
  deleted: boolean;
  interactionId: string | null;
  editCount: number;
}

export interface FakeCallbackView {
  type: number;
  data: Json | null;
  status: number;
  code: number | null;
  withResponse: boolean;
  fileCount: number;
  at: number;
}

export type AuthKind = 'bot' | 'none' | 'invalid';

export interface FakeRequestLog {
  method: string;
  /** Path below /api/v10 (or the CDN path), decoded. */
  path: string;
  /** Route template, e.g. `/channels/:channel_id/messages/:message_id`. */
  route: string;
  query: string;
  status: number;
  code: number | null;
  auth: AuthKind;
  json: Json | undefined;
  fileCount: number;
  at: number;
}

export interface IdentifyRecord {
  intents: number;
  shard: [number, number] | null;
  tokenOk: boolean;
  properties: Json;
  at: number;
}

export interface RateLimitRule {
  pattern: string | RegExp;
  remaining: number;
  retryAfterSec: number;
  global: boolean;
  scope: 'user' | 'global' | 'shared';
}
