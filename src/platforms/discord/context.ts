import type { Client } from 'discord.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { AccessRules } from '../../service/checks.js';
import type { GenerationService } from '../../service/generation-service.js';
import type { PlatformFeed } from '../../service/platform-feed.js';
import type { PublicLinks } from '../../service/public-links.js';
import type { AckGate } from '../shared/ack-gate.js';
import type { MemoryBudget } from '../shared/memory-budget.js';
import type { ReplyTokens } from './reply-tokens.js';
import type { DiscordSender } from './sender.js';
import type { DiscordStatusSink } from './status-sink.js';
import type { DiscordMessages } from './store.js';

/** What command files and listeners get: the service (their only door) plus Discord's own bookkeeping. */
export interface DiscordContext {
  client: Client;
  config: Config;
  log: Logger;
  service: GenerationService;
  /** Status edits and outcomes of Discord's jobs. */
  feed: PlatformFeed;
  messages: DiscordMessages;
  /** Where the bot works (DISCORD_ALLOWED_*), for the service's access checks. */
  access: AccessRules;
  links: PublicLinks;
  /** Hosts input images may be downloaded from (Discord's CDN, plus the REST host when proxied). */
  cdnHosts: string[];
  /** Every message create and edit, paced per channel. */
  sender: DiscordSender;
  /** Job status messages (edits, moves). */
  sink: DiscordStatusSink;
  /** Interactions acknowledge before any command's slower work starts. */
  acks: AckGate;
  /** The tokens of statuses that are an interaction's reply, while they live. */
  replies: ReplyTokens;
  /** Videos being uploaded at once (UPLOAD_MEMORY_MB). */
  memory: MemoryBudget;
}

/** Upload limit without an interaction: the guild's boost tier (platform notes D5). */
export function guildUploadLimit(premiumTier: number | undefined): number {
  if (premiumTier === 3) return 100 * 1024 * 1024;
  if (premiumTier === 2) return 50 * 1024 * 1024;
  return 10 * 1024 * 1024;
}

/**
 * What a bot-token upload may weigh for this interaction. `attachment_size_limit` includes the
 * invoking user's Nitro, which the bot's own messages do not get (platform notes D5).
 */
export function botUploadLimit(interaction: {
  attachmentSizeLimit: number;
  guild?: { premiumTier?: number } | null;
}): number {
  const tier = guildUploadLimit(interaction.guild?.premiumTier);
  return interaction.attachmentSizeLimit > 0 ? Math.min(interaction.attachmentSizeLimit, tier) : tier;
}
