import { type GuildMember, PermissionFlagsBits, type PermissionsBitField } from 'discord.js';
import type { Config } from '../../config.js';

export interface Place {
  guildId: string | null;
  channelId: string;
  /** The member's role ids; empty in DMs. */
  roleIds: string[];
  /** What the bot may do in the channel (interaction.appPermissions). */
  appPermissions?: Readonly<PermissionsBitField> | null;
}

/**
 * Where and for whom the bot works, checked in one place for every surface. Returns the refusal
 * to show, or undefined when the request may go on.
 */
export function refusal(config: Config, place: Place): string | undefined {
  if (!place.guildId) {
    return config.DISCORD_ALLOW_DMS ? undefined : 'Kinema works in servers only; DMs are turned off here.';
  }
  if (config.DISCORD_ALLOWED_GUILDS.length > 0 && !config.DISCORD_ALLOWED_GUILDS.includes(place.guildId)) {
    return 'Kinema is not enabled in this server.';
  }
  if (
    config.DISCORD_ALLOWED_CHANNELS.length > 0 &&
    !config.DISCORD_ALLOWED_CHANNELS.includes(place.channelId)
  ) {
    const where = config.DISCORD_ALLOWED_CHANNELS.map((id) => `<#${id}>`).join(', ');
    return `Kinema is not enabled in this channel; try ${where}.`;
  }
  if (
    config.DISCORD_ALLOWED_ROLES.length > 0 &&
    !place.roleIds.some((role) => config.DISCORD_ALLOWED_ROLES.includes(role))
  ) {
    return 'You need one of the roles allowed to use Kinema here.';
  }
  const permissions = place.appPermissions;
  if (permissions) {
    const missing = [
      ['View Channel', PermissionFlagsBits.ViewChannel],
      ['Send Messages', PermissionFlagsBits.SendMessages],
      ['Embed Links', PermissionFlagsBits.EmbedLinks],
      ['Attach Files', PermissionFlagsBits.AttachFiles],
    ]
      .filter(([, flag]) => !permissions.has(flag as bigint))
      .map(([name]) => name);
    if (missing.length > 0) {
      return `I can't post here: I need ${missing.join(', ')} in this channel. Ask a server admin to allow it.`;
    }
  }
  return undefined;
}

export function roleIdsOf(member: GuildMember | { roles: string[] } | null | undefined): string[] {
  if (!member) return [];
  const roles = (member as { roles: unknown }).roles;
  if (Array.isArray(roles)) return roles as string[];
  const cache = (roles as { cache?: Map<string, unknown> }).cache;
  return cache ? [...cache.keys()] : [];
}
