/**
 * Permission bits (https://discord.com/developers/docs/topics/permissions) and the documented
 * computation: base permissions from @everyone and the member's roles, then channel overwrites
 * (@everyone, roles, member), with the implicit denials for View Channel and Send Messages.
 */
export const Perm = {
  CreateInstantInvite: 1n << 0n,
  KickMembers: 1n << 1n,
  BanMembers: 1n << 2n,
  Administrator: 1n << 3n,
  ManageChannels: 1n << 4n,
  ManageGuild: 1n << 5n,
  AddReactions: 1n << 6n,
  ViewAuditLog: 1n << 7n,
  PrioritySpeaker: 1n << 8n,
  Stream: 1n << 9n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  SendTTSMessages: 1n << 12n,
  ManageMessages: 1n << 13n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  MentionEveryone: 1n << 17n,
  UseExternalEmojis: 1n << 18n,
  ViewGuildInsights: 1n << 19n,
  Connect: 1n << 20n,
  Speak: 1n << 21n,
  ChangeNickname: 1n << 26n,
  ManageNicknames: 1n << 27n,
  ManageRoles: 1n << 28n,
  ManageWebhooks: 1n << 29n,
  UseApplicationCommands: 1n << 31n,
  ManageThreads: 1n << 34n,
  CreatePublicThreads: 1n << 35n,
  SendMessagesInThreads: 1n << 38n,
  UseExternalApps: 1n << 50n,
} as const;

/** Every permission bit the fake knows about (what an administrator gets). */
export const ALL_PERMISSIONS: bigint = (1n << 51n) - 1n;

/** What a fresh server's @everyone role has (close to Discord's default). */
export const DEFAULT_EVERYONE_PERMISSIONS: bigint =
  Perm.CreateInstantInvite |
  Perm.AddReactions |
  Perm.Stream |
  Perm.ViewChannel |
  Perm.SendMessages |
  Perm.EmbedLinks |
  Perm.AttachFiles |
  Perm.ReadMessageHistory |
  Perm.MentionEveryone |
  Perm.UseExternalEmojis |
  Perm.Connect |
  Perm.Speak |
  Perm.ChangeNickname |
  Perm.UseApplicationCommands |
  Perm.CreatePublicThreads |
  Perm.SendMessagesInThreads |
  Perm.UseExternalApps;

export type PermissionInput = bigint | string | number;

export function toPermissionBits(value: PermissionInput | undefined, fallback = 0n): bigint {
  if (value === undefined) return fallback;
  return BigInt(value);
}

export interface OverwriteLike {
  id: string;
  type: 0 | 1;
  allow: bigint;
  deny: bigint;
}

export function basePermissions(opts: {
  isOwner: boolean;
  everyone: bigint;
  rolePermissions: bigint[];
}): bigint {
  if (opts.isOwner) return ALL_PERMISSIONS;
  let perms = opts.everyone;
  for (const p of opts.rolePermissions) perms |= p;
  if (perms & Perm.Administrator) return ALL_PERMISSIONS;
  return perms;
}

export function applyOverwrites(
  base: bigint,
  opts: { guildId: string; memberId: string; memberRoleIds: string[]; overwrites: OverwriteLike[] },
): bigint {
  if (base & Perm.Administrator) return ALL_PERMISSIONS;
  let perms = base;
  const everyone = opts.overwrites.find((o) => o.type === 0 && o.id === opts.guildId);
  if (everyone) perms = (perms & ~everyone.deny) | everyone.allow;
  let allow = 0n;
  let deny = 0n;
  for (const o of opts.overwrites) {
    if (o.type === 0 && o.id !== opts.guildId && opts.memberRoleIds.includes(o.id)) {
      allow |= o.allow;
      deny |= o.deny;
    }
  }
  perms = (perms & ~deny) | allow;
  const member = opts.overwrites.find((o) => o.type === 1 && o.id === opts.memberId);
  if (member) perms = (perms & ~member.deny) | member.allow;
  // Implicit denials.
  if (!(perms & Perm.ViewChannel)) return 0n;
  if (!(perms & Perm.SendMessages)) {
    perms &= ~(Perm.SendTTSMessages | Perm.MentionEveryone | Perm.AttachFiles | Perm.EmbedLinks);
  }
  return perms;
}
