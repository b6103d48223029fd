import { type GuildMember, PermissionFlagsBits, type PermissionsBitField } from 'discord.js';
import type { Config } from '../../config.js';
import { type AccessRules, accessRefusal, type Place } from '../../service/checks.js';
import { refusalText } from './refusals.js';

/** Where a Discord request comes from, as the interaction or reaction tells it. */
export interface DiscordPlace {
  guildId: string | null;
  channelId: string;
  /** The member's role ids; empty in DMs. */
  roleIds: string[];
  /** What the bot may do in the channel (interaction.appPermissions). */
  appPermissions?: Readonly<PermissionsBitField> | null;
  /** The channel is marked age-restricted (`nsfw`). */
  ageRestricted?: boolean;
  guildName?: string;
}

/** What the channel object tells about the place: its age restriction and its server's name. */
export function channelFacts(channel: unknown): { ageRestricted: boolean; guildName?: string } {
  const { nsfw, guild } = (channel ?? {}) as { nsfw?: unknown; guild?: { name?: unknown } | null };
  return {
    ageRestricted: nsfw === true,
    ...(typeof guild?.name === 'string' ? { guildName: guild.name } : {}),
  };
}

/** Where the bot works, from DISCORD_ALLOWED_* and DISCORD_ALLOW_DMS. */
export function discordAccess(config: Config): AccessRules {
  return {
    directMessages: config.DISCORD_ALLOW_DMS ? 'allow' : 'refuse',
    servers: config.DISCORD_ALLOWED_GUILDS,
    channels: config.DISCORD_ALLOWED_CHANNELS,
    roles: config.DISCORD_ALLOWED_ROLES,
  };
}

const NEEDED: ReadonlyArray<[string, bigint]> = [
  ['View Channel', PermissionFlagsBits.ViewChannel],
  ['Send Messages', PermissionFlagsBits.SendMessages],
  ['Embed Links', PermissionFlagsBits.EmbedLinks],
  ['Attach Files', PermissionFlagsBits.AttachFiles],
];

/** The place as the service's checks read it: the permissions the bot lacks count in servers only. */
export function placeOf(place: DiscordPlace): Place {
  const permissions = place.appPermissions;
  return {
    channelId: place.channelId,
    serverId: place.guildId,
    isDirectMessage: !place.guildId,
    roleIds: place.roleIds,
    ageRestricted: place.ageRestricted === true,
    ...(place.guildName ? { serverName: place.guildName } : {}),
    botLacks:
      place.guildId && permissions
        ? NEEDED.filter(([, flag]) => !permissions.has(flag)).map(([name]) => name)
        : [],
  };
}

/** The answer to a request from this place by the access checks, or undefined when it may go on. */
export function refusal(config: Config, place: DiscordPlace): string | undefined {
  const refused = accessRefusal(discordAccess(config), placeOf(place));
  return refused ? refusalText(refused) : undefined;
}

export function roleIdsOf(member: GuildMember | { roles: string[] } | null | undefined): string[] {
  if (!member) return [];
  const roles = (member as { roles: unknown }).roles;
  if (Array.isArray(roles)) return roles as string[];
  const cache = (roles as { cache?: Map<string, unknown> }).cache;
  return cache ? [...cache.keys()] : [];
}
