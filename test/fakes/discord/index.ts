/**
 * A protocol-faithful fake Discord (REST under /api/v10, gateway WebSocket, CDN) on 127.0.0.1 for driving
 * the real discord.js client end to end:
 *
 *   const discord = await startFakeDiscord({ guilds: [...], users: [...] });
 *   const client = new Client({ intents, rest: { api: discord.apiUrl } });
 *   await client.login(discord.token);
 *
 * See platform-notes.md D1–D12 and T1 for the behaviour emulated.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Events } from './events.js';
import { Gateway } from './gateway.js';
import { type PermissionInput, toPermissionBits } from './permissions.js';
import { RestApi } from './rest.js';
import { snowflake } from './snowflake.js';
import type {
  AttachmentInput,
  ClickButtonOptions,
  CreateMessageOptions,
  FakeCallbackView,
  FakeDiscordOptions,
  FakeMessageView,
  FakeRequestLog,
  IdentifyRecord,
  InteractionContextInput,
  InvokedInteraction,
  InvokeMessageCommandOptions,
  InvokeSlashCommandOptions,
  InvokeUserCommandOptions,
  Json,
  JsonObject,
  SubmitModalOptions,
} from './types.js';
import { type InteractionRec, type MessageRec, World } from './world.js';

export { ALL_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS, Perm } from './permissions.js';
export { snowflake, snowflakeTime } from './snowflake.js';
export type * from './types.js';

export interface FakeDiscordGuildInfo {
  id: string;
  name: string;
  premiumTier: number;
  channels: { id: string; name: string | null; type: number }[];
  roles: { id: string; name: string }[];
  memberIds: string[];
}

export interface FakeDiscord {
  /** `http://127.0.0.1:<port>/api`: pass as `new Client({ rest: { api } })`. */
  readonly apiUrl: string;
  /** `http://127.0.0.1:<port>`: the CDN and REST origin. */
  readonly baseUrl: string;
  /** `ws://127.0.0.1:<port>`: what GET /gateway/bot answers. */
  readonly gatewayUrl: string;
  readonly port: number;
  readonly token: string;
  readonly applicationId: string;
  readonly botUserId: string;

  // ---- world
  guild(idOrName?: string): FakeDiscordGuildInfo;
  channelId(name: string, guildIdOrName?: string): string;
  userId(username: string): string;

  // ---- acting as users
  invokeSlashCommand(opts: InvokeSlashCommandOptions): InvokedInteraction;
  invokeMessageCommand(opts: InvokeMessageCommandOptions): InvokedInteraction;
  invokeUserCommand(opts: InvokeUserCommandOptions): InvokedInteraction;
  clickButton(opts: ClickButtonOptions): InvokedInteraction;
  submitModal(opts: SubmitModalOptions): InvokedInteraction;
  addReaction(opts: { channelId?: string; messageId: string; userId: string; emoji: string }): void;
  removeReaction(opts: { channelId?: string; messageId: string; userId: string; emoji: string }): void;
  /** Posts a message as a user (or seeds history with `dispatch: false` / `ageMs`). */
  createMessage(opts: CreateMessageOptions): FakeMessageView;
  /** Deletes a message as a moderator would (MESSAGE_DELETE). */
  deleteMessage(messageId: string): void;

  // ---- inspection
  messages(
    channelId: string,
    opts?: { includeEphemeral?: boolean; includeDeleted?: boolean },
  ): FakeMessageView[];
  message(id: string): FakeMessageView | undefined;
  /** The raw API JSON of a message (fresh signed attachment URLs). */
  messageJson(id: string): JsonObject | undefined;
  callbacks(interactionId: string): FakeCallbackView[];
  interaction(id: string):
    | {
        id: string;
        token: string;
        acknowledged: boolean;
        originalMessageId: string | null;
        followupIds: string[];
        modal: Json | null;
      }
    | undefined;
  readonly requests: readonly FakeRequestLog[];
  readonly stats: {
    /** Every 429 served, whatever the cause (setRateLimit rules, route buckets, the channel budget). */
    readonly rateLimited: number;
    /** 429s served by the unpublished per-channel budget: in one channel, or in all. */
    channelBudgetRefusals(channelId?: string): number;
  };
  readonly identifies: readonly IdentifyRecord[];
  readonly dispatches: readonly { t: string; s: number; sessionId: string; at: number }[];
  readonly resumes: readonly { sessionId: string; seq: number; ok: boolean; at: number }[];
  /** Number of identified gateway sessions currently connected. */
  connectedSessions(): number;
  attachmentBytes(messageId: string, index: number): Buffer;
  /** Commands: all (no argument), global (`null`) or one guild's. */
  commands(guildId?: string | null): JsonObject[];

  // ---- knobs
  /** The next `times` requests matching the pattern answer 429. Pattern: `'PATCH /channels/:channel_id/messages/:message_id'`, `'METHOD /actual/path'`, a template, or a RegExp over both. */
  setRateLimit(
    pattern: string | RegExp,
    times: number,
    retryAfterSec: number,
    opts?: { global?: boolean; scope?: 'user' | 'global' | 'shared' },
  ): void;
  clearRateLimits(): void;
  /**
   * Moves a message's server-side creation time back by `ms` (its `timestamp` field and the 30046 rule
   * follow; its snowflake id, from which discord.js derives `createdTimestamp`, keeps its original time).
   * To get an id that is old too, seed the message with `createMessage({ ageMs })`.
   */
  ageMessage(id: string, ms: number): void;
  /** Expires interaction tokens (one, or all): webhook routes then answer 401 / 50027. */
  expireInteractionTokens(interactionId?: string): void;
  /** Puts an interaction past its initial-response deadline: callbacks then answer 404 / 10062. */
  expireInteractionDeadline(interactionId?: string): void;
  /** Invalidates every signed CDN URL issued so far (fresh ones come with the next API read). */
  expireAttachmentUrls(): void;
  /** Removes an attachment from the CDN (as Discord does with ephemeral attachments). */
  deleteAttachment(attachmentId: string): void;
  /** Sends op 7 RECONNECT to connected clients (discord.js resumes). */
  reconnectGateway(): void;
  /** Closes connected gateway sockets with a code (4000: resumable). */
  disconnectGateway(code?: number): void;

  /** Registers a cleanup (e.g. `client.destroy()`) run by close() before the server shuts down. */
  addCleanup(fn: () => unknown): void;
  close(): Promise<void>;
}

export async function startFakeDiscord(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
  const world = new World(options);
  let baseUrl = '';
  const gatewayUrl = () => baseUrl.replace(/^http/, 'ws');
  const gateway = new Gateway(world, gatewayUrl);
  const events = new Events(world, gateway);
  const rest = new RestApi(world, events, gatewayUrl);

  const server: Server = createServer((req, res) => {
    rest.handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: `fake discord crashed: ${(err as Error).message}`, code: 0 }));
    });
  });
  server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://127.0.0.1:${port}`;
  world.baseUrl = baseUrl;

  const cleanups: (() => unknown)[] = [];
  let closed = false;

  // ------------------------------------------------------------ helpers

  const need = <T>(value: T | undefined | null, what: string): T => {
    if (value === undefined || value === null) throw new Error(`fake discord: ${what}`);
    return value;
  };

  const findMessage = (id: string): MessageRec => {
    const m = world.messages.get(id);
    if (!m || m.deleted) throw new Error(`fake discord: unknown message ${id}`);
    return m;
  };

  const commandId = (name: string, type: number, guildId: string | null): string =>
    world.commands.find(
      (c) => c.data.name === name && c.data.type === type && (c.guildId === guildId || c.guildId === null),
    )?.id ?? snowflake();

  interface Base {
    rec: InteractionRec;
    payload: JsonObject;
  }

  const buildBase = (
    type: number,
    ctx: Partial<InteractionContextInput> & { userId: string },
    extra: { sourceMessageId?: string | null; commandName?: string | null; commandType?: number | null } = {},
  ): Base => {
    world.user(ctx.userId);
    const guildId = ctx.guildId === undefined ? ([...world.guilds.keys()][0] ?? null) : ctx.guildId;
    const channel = ctx.channelId
      ? world.channel(ctx.channelId)
      : guildId
        ? world.defaultTextChannel(guildId)
        : world.dmChannelFor(ctx.userId);
    if (guildId && channel.guildId !== guildId)
      throw new Error(`fake discord: channel ${channel.id} is not in guild ${guildId}`);
    const guild = guildId ? world.guild(guildId) : null;
    if (guild && !guild.members.has(ctx.userId))
      throw new Error(`fake discord: user ${ctx.userId} is not a member of ${guild.id}`);
    const botInGuild = world.isBotInGuild(guildId);
    const appPermissions =
      ctx.appPermissions !== undefined
        ? toPermissionBits(ctx.appPermissions)
        : botInGuild
          ? world.permissionsIn(channel.id, world.botUserId)
          : toPermissionBits(world.permissionsIn(channel.id, ctx.userId));
    const now = Date.now();
    const id = snowflake(now);
    const token = `aW50ZXJhY3Rpb246${id}:${randomBytes(48).toString('base64url')}`;
    const attachmentSizeLimit = ctx.attachmentSizeLimit ?? world.uploadLimitForGuild(guildId);
    const owners: Record<string, string> =
      ctx.authorizingIntegrationOwners ?? (guild && botInGuild ? { '0': guild.id } : { '1': ctx.userId });
    const payload: JsonObject = {
      id,
      application_id: world.applicationId,
      type,
      token,
      version: 1,
      channel: world.channelJson(channel, { permissionsFor: ctx.userId }),
      channel_id: channel.id,
      app_permissions: appPermissions.toString(),
      locale: ctx.locale ?? 'en-US',
      entitlements: [],
      authorizing_integration_owners: owners,
      context: ctx.context ?? (guild ? 0 : botInGuild ? 1 : 2),
      attachment_size_limit: attachmentSizeLimit,
    };
    if (guild) {
      payload.guild_id = guild.id;
      payload.guild = { id: guild.id, locale: guild.preferredLocale, features: [] };
      payload.guild_locale = guild.preferredLocale;
      payload.member = world.memberJson(guild.id, ctx.userId, { withUser: true, channelId: channel.id });
    } else {
      payload.user = world.userJson(ctx.userId);
    }
    const rec: InteractionRec = {
      id,
      token,
      type,
      guildId: guild?.id ?? null,
      channelId: channel.id,
      userId: ctx.userId,
      dispatchedAt: now,
      deadlineAt: now + world.opts.interactionDeadlineMs,
      tokenExpiresAt: now + world.opts.interactionTokenTtlMs,
      acknowledged: false,
      callbacks: [],
      originalMessageId: null,
      followupIds: [],
      sourceMessageId: extra.sourceMessageId ?? null,
      attachmentSizeLimit,
      commandName: extra.commandName ?? null,
      commandType: extra.commandType ?? null,
      modal: null,
      payload,
    };
    return { rec, payload };
  };

  const dispatchInteraction = (
    base: Base,
    attachments: InvokedInteraction['attachments'] = [],
  ): InvokedInteraction => {
    const { rec, payload } = base;
    world.interactions.set(rec.id, rec);
    world.interactionsByToken.set(rec.token, rec);
    const now = Date.now();
    rec.dispatchedAt = now;
    rec.deadlineAt = now + world.opts.interactionDeadlineMs;
    rec.tokenExpiresAt = now + world.opts.interactionTokenTtlMs;
    const delivered = events.interactionCreate(payload);
    if (delivered === 0)
      throw new Error('fake discord: no gateway session exists to receive the interaction');
    return {
      id: rec.id,
      token: rec.token,
      applicationId: world.applicationId,
      attachments,
      payload,
      dispatchedAt: now,
    };
  };

  const findComponent = (components: Json, customId: string): JsonObject | null => {
    if (Array.isArray(components)) {
      for (const c of components) {
        const found = findComponent(c, customId);
        if (found) return found;
      }
      return null;
    }
    if (!components || typeof components !== 'object') return null;
    if (components.custom_id === customId) return components;
    for (const key of ['components', 'accessory', 'component']) {
      const child = components[key];
      if (child !== undefined) {
        const found = findComponent(child, customId);
        if (found) return found;
      }
    }
    return null;
  };

  /** Option definitions of a registered chat-input command (guild first, then global), or null if unregistered. */
  const registeredOptionDefs = (
    name: string,
    guildId: string | null,
    group: string | undefined,
    sub: string | undefined,
  ): JsonObject[] | null => {
    const cmd =
      world.commands.find(
        (c) => c.guildId === guildId && guildId !== null && c.data.name === name && c.data.type === 1,
      ) ?? world.commands.find((c) => c.guildId === null && c.data.name === name && c.data.type === 1);
    if (!cmd) return null;
    let list = (Array.isArray(cmd.data.options) ? cmd.data.options : []) as JsonObject[];
    for (const [wanted, type] of [
      [group, 2],
      [sub, 1],
    ] as const) {
      if (!wanted) continue;
      const next = list.find((o) => o.name === wanted && o.type === type);
      if (!next)
        throw new Error(`fake discord: /${name} has no ${type === 2 ? 'group' : 'subcommand'} ${wanted}`);
      list = (Array.isArray(next.options) ? next.options : []) as JsonObject[];
    }
    return list;
  };

  const isAttachmentInput = (v: unknown): v is AttachmentInput =>
    typeof v === 'object' && v !== null && 'bytes' in v && 'filename' in v;

  const guildInfo = (idOrName?: string): FakeDiscordGuildInfo => {
    const g = need(
      idOrName === undefined
        ? [...world.guilds.values()][0]
        : (world.guilds.get(idOrName) ?? [...world.guilds.values()].find((x) => x.name === idOrName)),
      `unknown guild ${idOrName}`,
    );
    return {
      id: g.id,
      name: g.name,
      premiumTier: g.premiumTier,
      channels: g.channelIds.map((id) => {
        const c = world.channel(id);
        return { id: c.id, name: c.name, type: c.type };
      }),
      roles: g.roles.map((r) => ({ id: r.id, name: r.name })),
      memberIds: [...g.members.keys()],
    };
  };

  const reactionEmoji = (raw: string) => {
    const custom = /^<?(a)?:?([\w~-]+):(\d+)>?$/.exec(raw);
    return custom
      ? { id: custom[3] ?? null, name: custom[2] ?? '', animated: !!custom[1] }
      : { id: null, name: raw, animated: false };
  };

  // ------------------------------------------------------------ the handle

  const handle: FakeDiscord = {
    apiUrl: `${baseUrl}/api`,
    baseUrl,
    gatewayUrl: gatewayUrl(),
    port,
    token: world.token,
    applicationId: world.applicationId,
    botUserId: world.botUserId,

    guild: guildInfo,
    channelId(name, guildIdOrName) {
      const g = guildInfo(guildIdOrName);
      return need(g.channels.find((c) => c.name === name)?.id, `unknown channel ${name}`);
    },
    userId(username) {
      return need(
        [...world.users.values()].find((u) => u.username === username)?.id,
        `unknown user ${username}`,
      );
    },

    invokeSlashCommand(opts) {
      const guildId = opts.guildId === undefined ? ([...world.guilds.keys()][0] ?? null) : opts.guildId;
      const base = buildBase(2, opts, { commandName: opts.name, commandType: 1 });
      const defs = registeredOptionDefs(opts.name, guildId, opts.subcommandGroup, opts.subcommand);
      const resolved: Record<'attachments' | 'users' | 'members' | 'channels' | 'roles', JsonObject> = {
        attachments: {},
        users: {},
        members: {},
        channels: {},
        roles: {},
      };
      const hosted: InvokedInteraction['attachments'] = [];
      const resolveId = (type: number, id: string) => {
        if (type === 6 || type === 9) {
          if (world.users.has(id)) {
            resolved.users[id] = world.userJson(id);
            if (guildId && world.guild(guildId).members.has(id)) {
              resolved.members[id] = world.memberJson(guildId, id, {
                withUser: false,
                channelId: base.rec.channelId,
              });
            }
            return;
          }
        }
        if (type === 7) {
          resolved.channels[id] = world.channelJson(world.channel(id), { permissionsFor: opts.userId });
          return;
        }
        if (type === 8 || type === 9) {
          const role = guildId ? world.guild(guildId).roles.find((r) => r.id === id) : undefined;
          if (!role) throw new Error(`fake discord: unknown role ${id}`);
          resolved.roles[id] = world.roleJson(role);
          return;
        }
        throw new Error(`fake discord: cannot resolve ${id} for option type ${type}`);
      };
      const options: Json[] = Object.entries(opts.options ?? {}).map(([name, v]): Json => {
        const def = defs?.find((d) => d.name === name);
        if (defs && !def) throw new Error(`fake discord: /${opts.name} has no option ${name}`);
        const defType = typeof def?.type === 'number' ? def.type : undefined;
        if (isAttachmentInput(v)) {
          if (defType !== undefined && defType !== 11)
            throw new Error(`fake discord: option ${name} is not an attachment`);
          const a = world.hostAttachment(base.rec.channelId, v, true);
          const json = world.attachmentJson(a);
          resolved.attachments[a.id] = json;
          hosted.push({ id: a.id, url: String(json.url), size: a.size });
          return { name, type: 11, value: a.id };
        }
        let type: number;
        let value: string | number | boolean;
        if (typeof v === 'object') {
          type = v.type;
          value = v.value;
        } else {
          value = v;
          type = typeof v === 'string' ? 3 : typeof v === 'boolean' ? 5 : Number.isInteger(v) ? 4 : 10;
          if (defType !== undefined) type = defType;
        }
        if ([6, 7, 8, 9].includes(type)) resolveId(type, String(value));
        return { name, type, value };
      });
      for (const d of defs ?? []) {
        if (d.required === true && !(String(d.name) in (opts.options ?? {}))) {
          throw new Error(`fake discord: required option ${String(d.name)} of /${opts.name} is missing`);
        }
      }
      let top: Json[] = options;
      if (opts.subcommand) top = [{ name: opts.subcommand, type: 1, options }];
      if (opts.subcommandGroup) top = [{ name: opts.subcommandGroup, type: 2, options: top }];
      const cmdId = commandId(opts.name, 1, guildId);
      const data: JsonObject = { id: cmdId, name: opts.name, type: 1 };
      if (top.length > 0) data.options = top;
      const usedResolved = Object.fromEntries(
        Object.entries(resolved).filter(([, v]) => Object.keys(v).length > 0),
      );
      if (Object.keys(usedResolved).length > 0) data.resolved = usedResolved;
      const cmd = world.commands.find((c) => c.id === cmdId);
      if (cmd?.guildId) data.guild_id = cmd.guildId;
      base.payload.data = data;
      return dispatchInteraction(base, hosted);
    },

    invokeMessageCommand(opts) {
      const target = findMessage(opts.targetMessageId);
      const guildId = opts.guildId === undefined ? target.guildId : opts.guildId;
      const base = buildBase(
        2,
        { ...opts, guildId, channelId: opts.channelId ?? target.channelId },
        { commandName: opts.name, commandType: 3 },
      );
      base.payload.data = {
        id: commandId(opts.name, 3, guildId),
        name: opts.name,
        type: 3,
        target_id: target.id,
        resolved: { messages: { [target.id]: world.messageJson(target) } },
      };
      return dispatchInteraction(base);
    },

    invokeUserCommand(opts) {
      const guildId = opts.guildId === undefined ? ([...world.guilds.keys()][0] ?? null) : opts.guildId;
      world.user(opts.targetUserId);
      const base = buildBase(2, opts, { commandName: opts.name, commandType: 2 });
      const resolved: JsonObject = { users: { [opts.targetUserId]: world.userJson(opts.targetUserId) } };
      if (guildId && world.guild(guildId).members.has(opts.targetUserId)) {
        resolved.members = {
          [opts.targetUserId]: world.memberJson(guildId, opts.targetUserId, {
            withUser: false,
            channelId: base.rec.channelId,
          }),
        };
      }
      base.payload.data = {
        id: commandId(opts.name, 2, guildId),
        name: opts.name,
        type: 2,
        target_id: opts.targetUserId,
        resolved,
      };
      return dispatchInteraction(base);
    },

    clickButton(opts) {
      const m = findMessage(opts.messageId);
      const component = findComponent(m.components, opts.customId);
      if (component?.type !== 2) throw new Error(`fake discord: no button ${opts.customId} on ${m.id}`);
      if (component.disabled === true) throw new Error(`fake discord: button ${opts.customId} is disabled`);
      const ctx: Partial<InteractionContextInput> & { userId: string } = {
        userId: opts.userId,
        guildId: m.guildId,
        channelId: m.channelId,
      };
      if (opts.locale !== undefined) ctx.locale = opts.locale;
      if (opts.attachmentSizeLimit !== undefined) ctx.attachmentSizeLimit = opts.attachmentSizeLimit;
      if (opts.appPermissions !== undefined) ctx.appPermissions = opts.appPermissions;
      const base = buildBase(3, ctx, { sourceMessageId: m.id });
      base.payload.message = world.messageJson(m);
      base.payload.data = { custom_id: opts.customId, component_type: 2 };
      return dispatchInteraction(base);
    },

    submitModal(opts) {
      const from = opts.fromInteractionId ? world.interactions.get(opts.fromInteractionId) : undefined;
      if (opts.fromInteractionId && !from?.modal) {
        throw new Error(`fake discord: interaction ${opts.fromInteractionId} did not answer with a modal`);
      }
      const modal = (from?.modal ?? null) as JsonObject | null;
      const customId = need(
        opts.customId ?? (modal?.custom_id as string | undefined),
        'submitModal needs customId',
      );
      const ctx: Partial<InteractionContextInput> & { userId: string } = { ...opts };
      if (from) {
        ctx.guildId = from.guildId;
        ctx.channelId = from.channelId;
      }
      const base = buildBase(5, ctx, { sourceMessageId: from?.sourceMessageId ?? null });
      const used = new Set<string>();
      const textInput = (input: JsonObject): JsonObject => {
        const id = String(input.custom_id);
        used.add(id);
        return {
          type: 4,
          id: typeof input.id === 'number' ? input.id : 0,
          custom_id: id,
          // What the person did not touch comes back as the form was opened (its pre-filled value).
          value: opts.fields[id] ?? (typeof input.value === 'string' ? input.value : ''),
        };
      };
      let components: Json[];
      if (modal && Array.isArray(modal.components)) {
        components = modal.components.map((raw): Json => {
          const row = raw as JsonObject;
          if (
            row.type === 18 &&
            row.component &&
            typeof row.component === 'object' &&
            !Array.isArray(row.component)
          ) {
            return {
              type: 18,
              id: typeof row.id === 'number' ? row.id : 0,
              component: textInput(row.component),
            };
          }
          const children = Array.isArray(row.components) ? row.components : [];
          return { type: 1, components: children.map((c) => textInput(c as JsonObject)) };
        });
      } else {
        components = Object.keys(opts.fields).map((id) => ({
          type: 1,
          components: [textInput({ custom_id: id })],
        }));
      }
      for (const key of Object.keys(opts.fields)) {
        if (!used.has(key)) throw new Error(`fake discord: the modal has no text input ${key}`);
      }
      base.payload.data = { custom_id: customId, components };
      if (from?.sourceMessageId) {
        const source = world.messages.get(from.sourceMessageId);
        if (source) base.payload.message = world.messageJson(source);
      }
      return dispatchInteraction(base);
    },

    addReaction(opts) {
      const m = findMessage(opts.messageId);
      if (opts.channelId && m.channelId !== opts.channelId)
        throw new Error('fake discord: message is not in that channel');
      world.user(opts.userId);
      const emoji = reactionEmoji(opts.emoji);
      let r = m.reactions.find((x) =>
        emoji.id ? x.emoji.id === emoji.id : x.emoji.name === emoji.name && !x.emoji.id,
      );
      if (!r) {
        r = { emoji, userIds: [] };
        m.reactions.push(r);
      }
      if (r.userIds.includes(opts.userId)) return;
      r.userIds.push(opts.userId);
      events.reactionAdd(m, opts.userId, r.emoji);
    },

    removeReaction(opts) {
      const m = findMessage(opts.messageId);
      const emoji = reactionEmoji(opts.emoji);
      const r = m.reactions.find((x) =>
        emoji.id ? x.emoji.id === emoji.id : x.emoji.name === emoji.name && !x.emoji.id,
      );
      if (!r?.userIds.includes(opts.userId)) return;
      r.userIds = r.userIds.filter((id) => id !== opts.userId);
      if (r.userIds.length === 0) m.reactions = m.reactions.filter((x) => x !== r);
      events.reactionRemove(m, opts.userId, r.emoji);
    },

    createMessage(opts) {
      world.user(opts.authorId);
      world.channel(opts.channelId);
      const attachments = (opts.attachments ?? []).map((a) => world.hostAttachment(opts.channelId, a, false));
      const init: Parameters<World['createMessage']>[0] = {
        channelId: opts.channelId,
        authorId: opts.authorId,
        content: opts.content ?? '',
        embeds: opts.embeds ?? [],
        components: opts.components ?? [],
        attachments,
      };
      if (opts.ageMs !== undefined) init.createdAt = Date.now() - opts.ageMs;
      const m = world.createMessage(init);
      if (opts.dispatch ?? true) events.messageCreate(m);
      return world.messageView(m);
    },

    deleteMessage(messageId) {
      const m = findMessage(messageId);
      m.deleted = true;
      events.messageDelete(m);
    },

    messages(channelId, o = {}) {
      return [...world.messages.values()]
        .filter(
          (m) =>
            m.channelId === channelId &&
            ((o.includeEphemeral ?? true) ? true : !m.ephemeral) &&
            (o.includeDeleted || !m.deleted),
        )
        .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
        .map((m) => world.messageView(m));
    },
    message(id) {
      const m = world.messages.get(id);
      return m ? world.messageView(m) : undefined;
    },
    messageJson(id) {
      const m = world.messages.get(id);
      return m ? world.messageJson(m) : undefined;
    },
    callbacks(interactionId) {
      return (world.interactions.get(interactionId)?.callbacks ?? []).map((c) => ({ ...c }));
    },
    interaction(id) {
      const i = world.interactions.get(id);
      return i
        ? {
            id: i.id,
            token: i.token,
            acknowledged: i.acknowledged,
            originalMessageId: i.originalMessageId,
            followupIds: [...i.followupIds],
            modal: i.modal,
          }
        : undefined;
    },
    get requests() {
      return rest.requests;
    },
    stats: {
      get rateLimited() {
        return rest.rateLimited;
      },
      channelBudgetRefusals: (channelId) => rest.channelBudget.refused(channelId),
    },
    get identifies() {
      return gateway.identifies;
    },
    get dispatches() {
      return gateway.dispatchLog;
    },
    get resumes() {
      return gateway.resumes;
    },
    connectedSessions() {
      return gateway.liveSessions().length;
    },
    attachmentBytes(messageId, index) {
      const m = need(world.messages.get(messageId), `unknown message ${messageId}`);
      return need(m.attachments[index], `message ${messageId} has no attachment ${index}`).bytes;
    },
    commands(guildId) {
      return world.commands
        .filter((c) => guildId === undefined || c.guildId === guildId)
        .map((c) => ({
          ...c.data,
          id: c.id,
          application_id: world.applicationId,
          version: c.version,
          ...(c.guildId ? { guild_id: c.guildId } : {}),
        }));
    },

    setRateLimit(pattern, times, retryAfterSec, o = {}) {
      rest.rateLimitRules.push({
        pattern,
        remaining: times,
        retryAfterSec,
        global: o.global ?? false,
        scope: o.scope ?? (o.global ? 'global' : 'user'),
      });
    },
    clearRateLimits() {
      rest.rateLimitRules.length = 0;
    },
    ageMessage(id, ms) {
      need(world.messages.get(id), `unknown message ${id}`).createdAt -= ms;
    },
    expireInteractionTokens(interactionId) {
      for (const i of world.interactions.values()) {
        if (interactionId === undefined || i.id === interactionId) i.tokenExpiresAt = Date.now() - 1;
      }
    },
    expireInteractionDeadline(interactionId) {
      for (const i of world.interactions.values()) {
        if (interactionId === undefined || i.id === interactionId) i.deadlineAt = Date.now() - 1;
      }
    },
    expireAttachmentUrls() {
      for (const a of world.attachments.values()) a.generation += 1;
    },
    deleteAttachment(attachmentId) {
      need(world.attachments.get(attachmentId), `unknown attachment ${attachmentId}`).deleted = true;
    },
    reconnectGateway() {
      gateway.requestReconnect();
    },
    disconnectGateway(code = 4000) {
      gateway.disconnectAll(code);
    },

    addCleanup(fn) {
      cleanups.push(fn);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch {
          // keep closing
        }
      }
      await gateway.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return handle;
}

/** Convenience for permission inputs in tests. */
export function permissions(...bits: PermissionInput[]): string {
  return bits.reduce<bigint>((acc, b) => acc | toPermissionBits(b), 0n).toString();
}
