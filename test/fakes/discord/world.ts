import { randomBytes } from 'node:crypto';
import { DISCORD_CHANNEL_BUDGET } from './channel-budget.js';
import { guessContentType, imageSize, UrlSigner } from './media.js';
import {
  ALL_PERMISSIONS,
  applyOverwrites,
  basePermissions,
  DEFAULT_EVERYONE_PERMISSIONS,
  type OverwriteLike,
  toPermissionBits,
} from './permissions.js';
import { snowflake } from './snowflake.js';
import type {
  AttachmentInput,
  FakeAttachmentView,
  FakeDiscordOptions,
  FakeGuildInit,
  FakeMessageView,
  Json,
  JsonObject,
} from './types.js';

const MiB = 1024 * 1024;

export interface UserRec {
  id: string;
  username: string;
  globalName: string | null;
  bot: boolean;
}

export interface RoleRec {
  id: string;
  name: string;
  permissions: bigint;
  position: number;
  managed: boolean;
}

export interface ChannelRec {
  id: string;
  guildId: string | null;
  name: string | null;
  type: number;
  position: number;
  topic: string | null;
  nsfw: boolean;
  overwrites: OverwriteLike[];
  recipientIds: string[];
  lastMessageId: string | null;
}

export interface MemberRec {
  userId: string;
  roles: string[];
  nick: string | null;
  joinedAt: number;
}

export interface GuildRec {
  id: string;
  name: string;
  premiumTier: 0 | 1 | 2 | 3;
  ownerId: string;
  preferredLocale: string;
  roles: RoleRec[];
  channelIds: string[];
  members: Map<string, MemberRec>;
  createdAt: number;
}

export interface AttachmentRec {
  id: string;
  channelId: string;
  filename: string;
  contentType: string | null;
  size: number;
  width: number | null;
  height: number | null;
  description: string | null;
  bytes: Buffer;
  ephemeral: boolean;
  /** Hard expiry (ephemeral uploads), or null. */
  expiresAt: number | null;
  deleted: boolean;
  /** Bumped to invalidate every URL signed so far. */
  generation: number;
}

export interface ReactionRec {
  emoji: { id: string | null; name: string; animated: boolean };
  userIds: string[];
}

export interface MessageRec {
  id: string;
  channelId: string;
  guildId: string | null;
  authorId: string;
  webhookId: string | null;
  applicationId: string | null;
  content: string;
  embeds: Json[];
  components: Json[];
  attachments: AttachmentRec[];
  reactions: ReactionRec[];
  createdAt: number;
  editedAt: number | null;
  flags: number;
  type: number;
  tts: boolean;
  ephemeral: boolean;
  deleted: boolean;
  interactionId: string | null;
  messageReference: Json | null;
  nonce: Json | null;
  editCount: number;
}

export interface CallbackRec {
  type: number;
  data: Json | null;
  status: number;
  code: number | null;
  withResponse: boolean;
  fileCount: number;
  at: number;
}

export interface InteractionRec {
  id: string;
  token: string;
  type: number;
  guildId: string | null;
  channelId: string;
  userId: string;
  dispatchedAt: number;
  deadlineAt: number;
  tokenExpiresAt: number;
  acknowledged: boolean;
  callbacks: CallbackRec[];
  originalMessageId: string | null;
  followupIds: string[];
  /** For component interactions: the message the component is on. */
  sourceMessageId: string | null;
  attachmentSizeLimit: number;
  commandName: string | null;
  commandType: number | null;
  modal: Json | null;
  payload: JsonObject;
}

export interface CommandRec {
  id: string;
  guildId: string | null;
  version: string;
  data: JsonObject;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: Json,
  ) {
    super(message);
  }
}

export const MessageFlag = {
  Crossposted: 1 << 1,
  SuppressEmbeds: 1 << 2,
  Ephemeral: 1 << 6,
  Loading: 1 << 7,
  SuppressNotifications: 1 << 12,
  IsComponentsV2: 1 << 15,
} as const;

export class World {
  readonly token: string;
  readonly applicationId: string;
  readonly applicationFlags: number;
  readonly botUserId: string;
  readonly users = new Map<string, UserRec>();
  readonly guilds = new Map<string, GuildRec>();
  readonly channels = new Map<string, ChannelRec>();
  readonly messages = new Map<string, MessageRec>();
  readonly attachments = new Map<string, AttachmentRec>();
  readonly interactions = new Map<string, InteractionRec>();
  readonly interactionsByToken = new Map<string, InteractionRec>();
  readonly commands: CommandRec[] = [];
  readonly oldMessageEdits = new Map<string, number[]>();
  readonly signer = new UrlSigner(randomBytes(16).toString('hex'));
  readonly opts: Required<
    Pick<
      FakeDiscordOptions,
      | 'interactionDeadlineMs'
      | 'interactionTokenTtlMs'
      | 'uploadLimitBytes'
      | 'oldMessageAgeMs'
      | 'oldMessageEditLimit'
      | 'attachmentUrlTtlMs'
      | 'heartbeatIntervalMs'
      | 'bucketLimit'
      | 'bucketWindowMs'
      | 'privilegedIntents'
      | 'channelBudget'
    >
  > & { tierUploadLimits: Partial<Record<0 | 1 | 2 | 3, number>> };
  baseUrl = '';

  constructor(options: FakeDiscordOptions) {
    this.token = options.token ?? 'fake-bot-token.MTIz.abc';
    this.applicationId = options.applicationId ?? options.bot?.id ?? snowflake();
    this.applicationFlags = options.applicationFlags ?? 0;
    this.botUserId = options.bot?.id ?? this.applicationId;
    this.opts = {
      interactionDeadlineMs: options.interactionDeadlineMs ?? 3000,
      interactionTokenTtlMs: options.interactionTokenTtlMs ?? 15 * 60_000,
      uploadLimitBytes: options.uploadLimitBytes ?? 10 * MiB,
      tierUploadLimits: options.tierUploadLimits ?? { 2: 50 * MiB, 3: 100 * MiB },
      oldMessageAgeMs: options.oldMessageAgeMs ?? 60 * 60_000,
      oldMessageEditLimit: options.oldMessageEditLimit ?? { count: 3, windowMs: 6000 },
      attachmentUrlTtlMs: options.attachmentUrlTtlMs ?? 24 * 60 * 60_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
      bucketLimit: options.bucketLimit ?? 50,
      bucketWindowMs: options.bucketWindowMs ?? 1000,
      privilegedIntents: options.privilegedIntents ?? (1 << 1) | (1 << 8) | (1 << 15),
      channelBudget: options.channelBudget ?? DISCORD_CHANNEL_BUDGET,
    };
    this.users.set(this.botUserId, {
      id: this.botUserId,
      username: options.bot?.username ?? 'Kinema',
      globalName: null,
      bot: true,
    });
    for (const u of options.users ?? []) {
      const id = u.id ?? snowflake();
      this.users.set(id, { id, username: u.username, globalName: u.globalName ?? null, bot: u.bot ?? false });
    }
    const guilds = options.guilds ?? [{ name: 'Fake Guild', channels: [{ name: 'general' }] }];
    for (const g of guilds) this.addGuild(g);
  }

  // ---------------------------------------------------------------- world building

  addGuild(init: FakeGuildInit): GuildRec {
    const id = init.id ?? snowflake();
    const ownerId = init.ownerId ?? [...this.users.values()].find((u) => !u.bot)?.id ?? snowflake();
    const guild: GuildRec = {
      id,
      name: init.name ?? 'Fake Guild',
      premiumTier: init.premiumTier ?? 0,
      ownerId,
      preferredLocale: init.preferredLocale ?? 'en-US',
      roles: [
        {
          id,
          name: '@everyone',
          permissions: toPermissionBits(init.everyonePermissions, DEFAULT_EVERYONE_PERMISSIONS),
          position: 0,
          managed: false,
        },
      ],
      channelIds: [],
      members: new Map(),
      createdAt: Date.now(),
    };
    (init.roles ?? []).forEach((r, i) => {
      guild.roles.push({
        id: r.id ?? snowflake(),
        name: r.name,
        permissions: toPermissionBits(r.permissions),
        position: r.position ?? i + 1,
        managed: false,
      });
    });
    this.guilds.set(id, guild);
    const resolveRole = (ref: string): string => {
      const role = guild.roles.find((r) => r.id === ref || r.name === ref);
      if (!role) throw new Error(`fake discord: unknown role ${ref} in guild ${guild.name}`);
      return role.id;
    };
    for (const m of init.members ?? []) {
      if (!this.users.has(m.userId))
        throw new Error(`fake discord: member ${m.userId} is not a configured user`);
      guild.members.set(m.userId, {
        userId: m.userId,
        roles: (m.roles ?? []).map(resolveRole),
        nick: m.nick ?? null,
        joinedAt: Date.now(),
      });
    }
    if (init.botMember ?? true) {
      guild.members.set(this.botUserId, {
        userId: this.botUserId,
        roles: (init.botRoles ?? []).map(resolveRole),
        nick: null,
        joinedAt: Date.now(),
      });
    }
    if (!guild.members.has(ownerId) && this.users.has(ownerId)) {
      guild.members.set(ownerId, { userId: ownerId, roles: [], nick: null, joinedAt: Date.now() });
    }
    (init.channels ?? [{ name: 'general' }]).forEach((c, i) => {
      const channelId = c.id ?? snowflake();
      const overwrites: OverwriteLike[] = (c.overwrites ?? []).map((o) => ({
        id: o.type === 'role' ? (o.id === '@everyone' ? id : resolveRole(o.id)) : o.id,
        type: o.type === 'role' ? 0 : 1,
        allow: toPermissionBits(o.allow),
        deny: toPermissionBits(o.deny),
      }));
      this.channels.set(channelId, {
        id: channelId,
        guildId: id,
        name: c.name,
        type: c.type ?? 0,
        position: i,
        topic: c.topic ?? null,
        nsfw: c.nsfw ?? false,
        overwrites,
        recipientIds: [],
        lastMessageId: null,
      });
      guild.channelIds.push(channelId);
    });
    return guild;
  }

  dmChannelFor(userId: string): ChannelRec {
    for (const c of this.channels.values()) {
      if (c.type === 1 && c.recipientIds.includes(userId)) return c;
    }
    const id = snowflake();
    const channel: ChannelRec = {
      id,
      guildId: null,
      name: null,
      type: 1,
      position: 0,
      topic: null,
      nsfw: false,
      overwrites: [],
      recipientIds: [userId],
      lastMessageId: null,
    };
    this.channels.set(id, channel);
    return channel;
  }

  // ---------------------------------------------------------------- lookups

  user(id: string): UserRec {
    const u = this.users.get(id);
    if (!u) throw new ApiError(404, 10013, 'Unknown User');
    return u;
  }

  guild(id: string): GuildRec {
    const g = this.guilds.get(id);
    if (!g) throw new ApiError(404, 10004, 'Unknown Guild');
    return g;
  }

  channel(id: string): ChannelRec {
    const c = this.channels.get(id);
    if (!c) throw new ApiError(404, 10003, 'Unknown Channel');
    return c;
  }

  /** A message visible through bot-token routes in this channel. */
  channelMessage(channelId: string, messageId: string): MessageRec {
    const m = this.messages.get(messageId);
    if (!m || m.channelId !== channelId || m.deleted || m.ephemeral) {
      throw new ApiError(404, 10008, 'Unknown Message');
    }
    return m;
  }

  defaultTextChannel(guildId: string): ChannelRec {
    const g = this.guild(guildId);
    for (const id of g.channelIds) {
      const c = this.channels.get(id);
      if (c && (c.type === 0 || c.type === 5)) return c;
    }
    throw new Error(`fake discord: guild ${guildId} has no text channel`);
  }

  isBotInGuild(guildId: string | null): boolean {
    if (!guildId) return true;
    return this.guilds.get(guildId)?.members.has(this.botUserId) ?? false;
  }

  /** Effective permissions of a user in a channel (ALL in DMs). */
  permissionsIn(channelId: string, userId: string): bigint {
    const channel = this.channel(channelId);
    if (!channel.guildId) return ALL_PERMISSIONS;
    const guild = this.guild(channel.guildId);
    const member = guild.members.get(userId);
    if (!member) return 0n;
    const everyone = guild.roles.find((r) => r.id === guild.id)?.permissions ?? 0n;
    const base = basePermissions({
      isOwner: guild.ownerId === userId,
      everyone,
      rolePermissions: member.roles.map((rid) => guild.roles.find((r) => r.id === rid)?.permissions ?? 0n),
    });
    return applyOverwrites(base, {
      guildId: guild.id,
      memberId: userId,
      memberRoleIds: member.roles,
      overwrites: channel.overwrites,
    });
  }

  requirePermissions(channelId: string, userId: string, needed: bigint): void {
    const perms = this.permissionsIn(channelId, userId);
    const channel = this.channel(channelId);
    if (channel.guildId && !this.isBotInGuild(channel.guildId))
      throw new ApiError(403, 50001, 'Missing Access');
    if (!(perms & (1n << 10n))) throw new ApiError(403, 50001, 'Missing Access');
    if ((perms & needed) !== needed) throw new ApiError(403, 50013, 'Missing Permissions');
  }

  uploadLimitForChannel(channelId: string): number {
    const channel = this.channels.get(channelId);
    const guild = channel?.guildId ? this.guilds.get(channel.guildId) : undefined;
    return this.uploadLimitForGuild(guild?.id ?? null);
  }

  uploadLimitForGuild(guildId: string | null): number {
    const guild = guildId ? this.guilds.get(guildId) : undefined;
    const tierLimit = guild ? (this.opts.tierUploadLimits[guild.premiumTier] ?? 0) : 0;
    return Math.max(this.opts.uploadLimitBytes, tierLimit);
  }

  // ---------------------------------------------------------------- attachments

  hostAttachment(channelId: string, input: AttachmentInput, ephemeral: boolean): AttachmentRec {
    const bytes = Buffer.from(input.bytes);
    const dims = imageSize(bytes);
    const contentType = guessContentType(input.filename, input.contentType ?? null);
    const isImage = contentType?.startsWith('image/') ?? false;
    const rec: AttachmentRec = {
      id: snowflake(),
      channelId,
      filename: sanitizeFilename(input.filename),
      contentType,
      size: bytes.length,
      width: input.width ?? (isImage ? (dims?.width ?? null) : null),
      height: input.height ?? (isImage ? (dims?.height ?? null) : null),
      description: input.description ?? null,
      bytes,
      ephemeral,
      expiresAt: input.expiresInMs === undefined ? null : Date.now() + input.expiresInMs,
      deleted: false,
      generation: 0,
    };
    this.attachments.set(rec.id, rec);
    return rec;
  }

  attachmentPath(a: AttachmentRec): string {
    return `/${a.ephemeral ? 'ephemeral-attachments' : 'attachments'}/${a.channelId}/${a.id}/${encodeURIComponent(a.filename)}`;
  }

  signedUrl(a: AttachmentRec): string {
    const path = this.attachmentPath(a);
    const now = Date.now();
    const issued = Math.floor(now / 1000);
    let expires = Math.floor((now + this.opts.attachmentUrlTtlMs) / 1000);
    if (a.expiresAt !== null) expires = Math.min(expires, Math.floor(a.expiresAt / 1000));
    return `${this.baseUrl}${path}${this.signer.query(path, issued, expires, a.generation)}`;
  }

  attachmentAvailable(a: AttachmentRec): boolean {
    return !a.deleted && (a.expiresAt === null || a.expiresAt > Date.now());
  }

  // ---------------------------------------------------------------- messages

  createMessage(init: {
    channelId: string;
    authorId: string;
    content?: string;
    embeds?: Json[];
    components?: Json[];
    attachments?: AttachmentRec[];
    flags?: number;
    type?: number;
    webhookId?: string | null;
    applicationId?: string | null;
    ephemeral?: boolean;
    interactionId?: string | null;
    messageReference?: Json | null;
    nonce?: Json | null;
    tts?: boolean;
    createdAt?: number;
  }): MessageRec {
    const channel = this.channel(init.channelId);
    const createdAt = init.createdAt ?? Date.now();
    const m: MessageRec = {
      id: snowflake(createdAt),
      channelId: channel.id,
      guildId: channel.guildId,
      authorId: init.authorId,
      webhookId: init.webhookId ?? null,
      applicationId: init.applicationId ?? null,
      content: init.content ?? '',
      embeds: init.embeds ?? [],
      components: init.components ?? [],
      attachments: init.attachments ?? [],
      reactions: [],
      createdAt,
      editedAt: null,
      flags: init.flags ?? 0,
      type: init.type ?? 0,
      tts: init.tts ?? false,
      ephemeral: init.ephemeral ?? false,
      deleted: false,
      interactionId: init.interactionId ?? null,
      messageReference: init.messageReference ?? null,
      nonce: init.nonce ?? null,
      editCount: 0,
    };
    this.messages.set(m.id, m);
    if (!m.ephemeral) channel.lastMessageId = m.id;
    return m;
  }

  /** Enforces the cap on edits to messages older than `oldMessageAgeMs` (code 30046). */
  checkOldMessageEdit(m: MessageRec): void {
    const now = Date.now();
    if (now - m.createdAt <= this.opts.oldMessageAgeMs) return;
    const { count, windowMs } = this.opts.oldMessageEditLimit;
    const recent = (this.oldMessageEdits.get(m.channelId) ?? []).filter((t) => now - t < windowMs);
    if (recent.length >= count) {
      this.oldMessageEdits.set(m.channelId, recent);
      throw new ApiError(
        400,
        30046,
        'Maximum number of edits to messages older than 1 hour reached. Try again later.',
      );
    }
    recent.push(now);
    this.oldMessageEdits.set(m.channelId, recent);
  }

  // ---------------------------------------------------------------- serializers

  userJson(id: string): JsonObject {
    const u = this.users.get(id) ?? { id, username: 'unknown', globalName: null, bot: false };
    const out: JsonObject = {
      id: u.id,
      username: u.username,
      discriminator: '0',
      global_name: u.globalName,
      avatar: null,
      avatar_decoration_data: null,
      public_flags: 0,
      flags: 0,
      banner: null,
      accent_color: null,
      primary_guild: null,
      collectibles: null,
    };
    if (u.bot) out.bot = true;
    return out;
  }

  botUserJson(): JsonObject {
    return {
      ...this.userJson(this.botUserId),
      verified: true,
      mfa_enabled: false,
      email: null,
      locale: 'en-US',
    };
  }

  roleJson(r: RoleRec): JsonObject {
    return {
      id: r.id,
      name: r.name,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      icon: null,
      unicode_emoji: null,
      position: r.position,
      permissions: r.permissions.toString(),
      managed: r.managed,
      mentionable: false,
      flags: 0,
    };
  }

  memberJson(guildId: string, userId: string, opts: { withUser: boolean; channelId?: string }): JsonObject {
    const guild = this.guild(guildId);
    const m = guild.members.get(userId) ?? { userId, roles: [], nick: null, joinedAt: Date.now() };
    const out: JsonObject = {
      roles: m.roles,
      nick: m.nick,
      avatar: null,
      banner: null,
      joined_at: new Date(m.joinedAt).toISOString(),
      premium_since: null,
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      communication_disabled_until: null,
    };
    if (opts.withUser) out.user = this.userJson(userId);
    if (opts.channelId) out.permissions = this.permissionsIn(opts.channelId, userId).toString();
    return out;
  }

  channelJson(c: ChannelRec, opts: { withGuildId?: boolean; permissionsFor?: string } = {}): JsonObject {
    if (c.type === 1) {
      return {
        id: c.id,
        type: 1,
        last_message_id: c.lastMessageId,
        flags: 0,
        recipients: c.recipientIds.map((id) => this.userJson(id)),
      };
    }
    const out: JsonObject = {
      id: c.id,
      type: c.type,
      name: c.name,
      position: c.position,
      flags: 0,
      parent_id: null,
      topic: c.topic,
      nsfw: c.nsfw,
      rate_limit_per_user: 0,
      last_message_id: c.lastMessageId,
      permission_overwrites: c.overwrites.map((o) => ({
        id: o.id,
        type: o.type,
        allow: o.allow.toString(),
        deny: o.deny.toString(),
      })),
    };
    if (opts.withGuildId !== false && c.guildId) out.guild_id = c.guildId;
    if (opts.permissionsFor) out.permissions = this.permissionsIn(c.id, opts.permissionsFor).toString();
    return out;
  }

  guildJson(g: GuildRec): JsonObject {
    return {
      id: g.id,
      name: g.name,
      icon: null,
      icon_hash: null,
      splash: null,
      discovery_splash: null,
      owner_id: g.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      widget_enabled: false,
      widget_channel_id: null,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: g.roles.map((r) => this.roleJson(r)),
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      max_presences: null,
      max_members: 500000,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: g.premiumTier,
      premium_subscription_count: [0, 2, 7, 14][g.premiumTier] ?? 0,
      preferred_locale: g.preferredLocale,
      public_updates_channel_id: null,
      max_video_channel_users: 25,
      max_stage_video_channel_users: 50,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      safety_alerts_channel_id: null,
      incidents_data: null,
    };
  }

  /** The GUILD_CREATE payload (members: only the bot unless the GuildMembers intent was given). */
  guildCreateJson(g: GuildRec, allMembers: boolean): JsonObject {
    const memberIds = allMembers ? [...g.members.keys()] : [this.botUserId];
    const bot = g.members.get(this.botUserId);
    return {
      ...this.guildJson(g),
      joined_at: new Date(bot?.joinedAt ?? g.createdAt).toISOString(),
      large: false,
      unavailable: false,
      member_count: g.members.size,
      voice_states: [],
      members: memberIds
        .filter((id) => g.members.has(id))
        .map((id) => this.memberJson(g.id, id, { withUser: true })),
      channels: g.channelIds
        .map((id) => this.channels.get(id))
        .filter((c): c is ChannelRec => c !== undefined)
        .map((c) => this.channelJson(c, { withGuildId: false })),
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      lazy: true,
    };
  }

  attachmentJson(a: AttachmentRec): JsonObject {
    const url = this.signedUrl(a);
    const out: JsonObject = {
      id: a.id,
      filename: a.filename,
      size: a.size,
      url,
      proxy_url: url,
      content_type: a.contentType,
      flags: 0,
    };
    if (a.description !== null) out.description = a.description;
    if (a.width !== null && a.height !== null) {
      out.width = a.width;
      out.height = a.height;
      out.placeholder = 'AAAAAA==';
      out.placeholder_version = 1;
    }
    if (a.ephemeral) out.ephemeral = true;
    return out;
  }

  reactionJson(r: ReactionRec): JsonObject {
    return {
      emoji: { id: r.emoji.id, name: r.emoji.name, ...(r.emoji.animated ? { animated: true } : {}) },
      count: r.userIds.length,
      count_details: { burst: 0, normal: r.userIds.length },
      burst_colors: [],
      me: r.userIds.includes(this.botUserId),
      me_burst: false,
    };
  }

  messageJson(m: MessageRec, opts: { gateway?: boolean } = {}): JsonObject {
    const out: JsonObject = {
      id: m.id,
      channel_id: m.channelId,
      type: m.type,
      content: m.content,
      author: this.userJson(m.authorId),
      attachments: m.attachments.map((a) => this.attachmentJson(a)),
      embeds: m.embeds,
      mentions: [],
      mention_roles: [],
      mention_everyone: false,
      pinned: false,
      tts: m.tts,
      timestamp: new Date(m.createdAt).toISOString(),
      edited_timestamp: m.editedAt === null ? null : new Date(m.editedAt).toISOString(),
      flags: m.flags,
      components: m.components,
    };
    if (m.reactions.length > 0) out.reactions = m.reactions.map((r) => this.reactionJson(r));
    if (m.webhookId) out.webhook_id = m.webhookId;
    if (m.applicationId) out.application_id = m.applicationId;
    if (m.messageReference) out.message_reference = m.messageReference;
    if (m.nonce !== null) out.nonce = m.nonce;
    if (m.interactionId) {
      const i = this.interactions.get(m.interactionId);
      if (i) {
        out.interaction_metadata = {
          id: i.id,
          type: i.type,
          user: this.userJson(i.userId),
          authorizing_integration_owners: i.payload.authorizing_integration_owners ?? {},
          ...(i.commandName ? { name: i.commandName, command_type: i.commandType ?? 1 } : {}),
          ...(i.sourceMessageId ? { interacted_message_id: i.sourceMessageId } : {}),
        };
        if (i.type === 2) {
          out.interaction = {
            id: i.id,
            type: i.type,
            name: i.commandName ?? '',
            user: this.userJson(i.userId),
          };
        }
      }
    }
    if (opts.gateway && m.guildId) {
      out.guild_id = m.guildId;
      if (!m.webhookId && this.guilds.get(m.guildId)?.members.has(m.authorId)) {
        out.member = this.memberJson(m.guildId, m.authorId, { withUser: false });
      }
    }
    return out;
  }

  messageView(m: MessageRec): FakeMessageView {
    return {
      id: m.id,
      channelId: m.channelId,
      guildId: m.guildId,
      authorId: m.authorId,
      webhookId: m.webhookId,
      content: m.content,
      embeds: m.embeds,
      components: m.components,
      attachments: m.attachments.map((a) => this.attachmentView(a)),
      reactions: m.reactions.map((r) => ({
        emoji: r.emoji.id ? `${r.emoji.name}:${r.emoji.id}` : r.emoji.name,
        userIds: [...r.userIds],
      })),
      flags: m.flags,
      type: m.type,
      createdAt: m.createdAt,
      editedAt: m.editedAt,
      ephemeral: m.ephemeral,
      deleted: m.deleted,
      interactionId: m.interactionId,
      editCount: m.editCount,
    };
  }

  attachmentView(a: AttachmentRec): FakeAttachmentView {
    return {
      id: a.id,
      filename: a.filename,
      size: a.size,
      contentType: a.contentType,
      width: a.width,
      height: a.height,
      ephemeral: a.ephemeral,
      url: this.signedUrl(a),
    };
  }
}

function sanitizeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? 'file';
  const cleaned = base.replace(/\s+/g, '_').replace(/[^\w.-]/g, '');
  return cleaned.length > 0 ? cleaned : 'unknown';
}
