import { randomBytes } from 'node:crypto';
import type {
  EphemeralMessage,
  FakeChannel,
  FakeMessage,
  FakeSlackOptions,
  FakeUser,
  JsonObject,
} from './types.js';
import { type ApiResult, clone, fail, str } from './web-api-args.js';

interface TriggerState {
  createdAt: number;
  used: boolean;
}

export interface UserPayloadRef {
  id: string;
  username: string;
  name: string;
  team_id: string;
}

type WorkspaceRules = Required<
  Pick<
    FakeSlackOptions,
    'triggerTtlMs' | 'responseUrlMaxUses' | 'responseUrlTtlMs' | 'socketAckTimeoutMs' | 'strictChannels'
  >
>;

/**
 * The state every surface of the fake Slack shares: who the app and the workspace are, the clock,
 * ids, users, channels, the messages in them (and the ephemeral ones), and the trigger_ids handed out.
 */
export class SlackWorkspace {
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
  readonly rules: WorkspaceRules;

  /** Set once the server listens; every URL the fake hands out starts with it. */
  baseUrl = 'http://127.0.0.1:0';
  readonly channels = new Map<string, FakeChannel>();
  readonly users = new Map<string, FakeUser>();
  readonly messageStore: FakeMessage[] = [];
  readonly deletedMessages = new Set<FakeMessage>();
  readonly ephemeralLog: EphemeralMessage[] = [];
  readonly triggers = new Map<string, TriggerState>();
  private clockOffsetMs = 0;
  private seq = 0;
  private tsSeq = 0;

  constructor(options: FakeSlackOptions) {
    this.botToken = options.botToken ?? 'xoxb-fake-bot-token';
    this.appToken = options.appToken ?? 'xapp-1-A0FAKEAPP-fake-app-token';
    this.teamId = options.teamId ?? 'T0FAKETEAM';
    this.teamDomain = options.teamDomain ?? 'kinema-test';
    this.appId = options.appId ?? 'A0FAKEAPP';
    this.botId = options.botId ?? 'B0FAKEBOT';
    this.botUserId = options.botUserId ?? 'U0FAKEBOT';
    this.botName = options.botName ?? 'kinema';
    this.verificationToken = options.verificationToken ?? 'fake-verification-token';
    this.rules = {
      triggerTtlMs: options.triggerTtlMs ?? 3000,
      responseUrlMaxUses: options.responseUrlMaxUses ?? 5,
      responseUrlTtlMs: options.responseUrlTtlMs ?? 30 * 60 * 1000,
      socketAckTimeoutMs: options.socketAckTimeoutMs ?? 3000,
      strictChannels: options.strictChannels ?? false,
    };
    this.addUser({ id: this.botUserId, name: this.botName, real_name: 'Kinema', is_bot: true });
    this.addUser({ id: this.defaultUserId, name: 'tester', real_name: 'Test User' });
    this.addChannel({ id: this.defaultChannelId, name: 'general' });
  }

  // ---------------------------------------------------------------- clock & ids

  /** The fake's clock (Date.now() plus `advanceClock` offsets); trigger and response_url expiry use it. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  advanceClock(ms: number): void {
    this.clockOffsetMs += ms;
  }

  nextId(prefix: string): string {
    this.seq += 1;
    return `${prefix}0${this.seq.toString(36).toUpperCase().padStart(8, '0')}`;
  }

  nextTs(): string {
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

  // ---------------------------------------------------------------- users & channels

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

  normalizeChannelId(channel: string): string {
    // Posting to a user id opens (or reuses) the DM with that user, as chat.postMessage does.
    if (/^[UW][A-Z0-9]+$/.test(channel)) return `D${channel.slice(1)}`;
    return channel;
  }

  /** The channel a Web API call names; unknown ones spring into existence unless `strictChannels`. */
  resolveChannel(raw: unknown): { channel: FakeChannel } | { error: ApiResult } {
    const given = str(raw);
    if (!given) return { error: fail('channel_not_found') };
    const id = this.normalizeChannelId(given);
    let channel = this.channels.get(id);
    if (!channel) {
      const isDm = id.startsWith('D');
      if (this.rules.strictChannels && !isDm) return { error: fail('channel_not_found') };
      if (!/^[CDG][A-Z0-9]+$/.test(id)) return { error: fail('channel_not_found') };
      channel = this.channels.get(this.addChannel({ id }).id)!;
    }
    return { channel };
  }

  userRef(userId: string): UserPayloadRef {
    const u = this.users.get(userId) ?? this.addUser({ id: userId });
    return { id: u.id, username: u.name, name: u.name, team_id: this.teamId };
  }

  channelRef(channelId: string): { id: string; name: string } {
    const id = this.normalizeChannelId(channelId);
    const c = this.channels.get(id) ?? this.addChannel({ id });
    return { id: c.id, name: c.name };
  }

  teamRef(): { id: string; domain: string } {
    return { id: this.teamId, domain: this.teamDomain };
  }

  // ---------------------------------------------------------------- messages

  findMessage(channel: string, ts: string): FakeMessage | undefined {
    return this.messageStore.find(
      (m) => m.channel === channel && m.ts === ts && !this.deletedMessages.has(m),
    );
  }

  botMessageFields(): Pick<FakeMessage, 'user' | 'bot_id' | 'app_id'> & {
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

  addReply(parent: FakeMessage | undefined, reply: FakeMessage): void {
    if (!parent) return;
    parent.reply_count = (parent.reply_count ?? 0) + 1;
    if (parent.thread_ts === undefined) parent.thread_ts = parent.ts;
    reply.parent_user_id = parent.user;
  }

  /** A message as the API shows it (without the fake's own bookkeeping fields). */
  publicMessage(m: FakeMessage): JsonObject {
    const { source: _source, channel: _channel, ...rest } = m;
    return clone(rest) as JsonObject;
  }
}
