import type { Gateway, GatewaySession } from './gateway.js';
import { Intent } from './gateway.js';
import type { JsonObject } from './types.js';
import type { MessageRec, World } from './world.js';

/** Gateway dispatches caused by changes to the world, filtered by each session's intents. */
export class Events {
  constructor(
    private readonly world: World,
    private readonly gateway: Gateway,
  ) {}

  private messageIntent(m: { guildId: string | null }): number {
    return m.guildId ? Intent.GuildMessages : Intent.DirectMessages;
  }

  private reactionIntent(m: { guildId: string | null }): number {
    return m.guildId ? Intent.GuildMessageReactions : Intent.DirectMessageReactions;
  }

  /** Without MESSAGE_CONTENT, guild messages by others that do not mention the bot arrive without content. */
  private messageFor(session: GatewaySession, m: MessageRec): JsonObject {
    const json = this.world.messageJson(m, { gateway: true });
    const botId = this.world.botUserId;
    const exempt =
      !m.guildId ||
      m.authorId === botId ||
      (session.intents & Intent.MessageContent) !== 0 ||
      m.content.includes(`<@${botId}>`);
    if (!exempt) {
      json.content = '';
      json.embeds = [];
      json.attachments = [];
      json.components = [];
    }
    return json;
  }

  messageCreate(m: MessageRec): void {
    if (m.ephemeral) return;
    this.gateway.dispatch('MESSAGE_CREATE', (s) =>
      s.intents & this.messageIntent(m) ? this.messageFor(s, m) : null,
    );
  }

  messageUpdate(m: MessageRec): void {
    if (m.ephemeral) return;
    this.gateway.dispatch('MESSAGE_UPDATE', (s) =>
      s.intents & this.messageIntent(m) ? this.messageFor(s, m) : null,
    );
  }

  messageDelete(m: MessageRec): void {
    if (m.ephemeral) return;
    const d: JsonObject = { id: m.id, channel_id: m.channelId };
    if (m.guildId) d.guild_id = m.guildId;
    this.gateway.dispatch('MESSAGE_DELETE', (s) => (s.intents & this.messageIntent(m) ? d : null));
  }

  reactionAdd(
    m: MessageRec,
    userId: string,
    emoji: { id: string | null; name: string; animated: boolean },
  ): void {
    const d: JsonObject = {
      user_id: userId,
      channel_id: m.channelId,
      message_id: m.id,
      emoji: { id: emoji.id, name: emoji.name, ...(emoji.animated ? { animated: true } : {}) },
      message_author_id: m.authorId,
      burst: false,
      burst_colors: [],
      type: 0,
    };
    if (m.guildId) {
      d.guild_id = m.guildId;
      d.member = this.world.memberJson(m.guildId, userId, { withUser: true });
    }
    this.gateway.dispatch('MESSAGE_REACTION_ADD', (s) => (s.intents & this.reactionIntent(m) ? d : null));
  }

  reactionRemove(
    m: MessageRec,
    userId: string,
    emoji: { id: string | null; name: string; animated: boolean },
  ): void {
    const d: JsonObject = {
      user_id: userId,
      channel_id: m.channelId,
      message_id: m.id,
      emoji: { id: emoji.id, name: emoji.name, ...(emoji.animated ? { animated: true } : {}) },
      burst: false,
      type: 0,
    };
    if (m.guildId) d.guild_id = m.guildId;
    this.gateway.dispatch('MESSAGE_REACTION_REMOVE', (s) => (s.intents & this.reactionIntent(m) ? d : null));
  }

  interactionCreate(payload: JsonObject): number {
    return this.gateway.dispatch('INTERACTION_CREATE', () => payload);
  }
}
