import type { Config } from '../../config.js';
import type { ImageModerationSettings } from './image-moderator.js';
import type { TextModerationSettings } from './text-moderator.js';

export interface ModerationSettings {
  text: TextModerationSettings;
  images: ImageModerationSettings;
  /** MODERATION_ALLOW_IN_NSFW_CHANNELS. */
  allowInNsfwChannels: boolean;
  /** AUDIT_RETENTION_DAYS. */
  auditRetentionDays: number;
}

type ModerationConfig = Pick<
  Config,
  | 'MODERATION_TEXT'
  | 'MODERATION_BLOCKLIST'
  | 'MODERATION_IMAGES'
  | 'MODERATION_NSFW_THRESHOLD'
  | 'MODERATION_SEXY_THRESHOLD'
  | 'MODERATION_ALLOW_IN_NSFW_CHANNELS'
  | 'AUDIT_RETENTION_DAYS'
>;

/** The environment's moderation settings, in the shape the moderators take (per-server ones may override). */
export function moderationSettings(config: ModerationConfig): ModerationSettings {
  return {
    text: { enabled: config.MODERATION_TEXT, blocklist: config.MODERATION_BLOCKLIST },
    images: {
      enabled: config.MODERATION_IMAGES,
      thresholds: {
        explicit: config.MODERATION_NSFW_THRESHOLD,
        suggestive: config.MODERATION_SEXY_THRESHOLD,
      },
    },
    allowInNsfwChannels: config.MODERATION_ALLOW_IN_NSFW_CHANNELS,
    auditRetentionDays: config.AUDIT_RETENTION_DAYS,
  };
}
