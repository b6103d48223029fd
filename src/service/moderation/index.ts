/**
 * Moderation, for the service and the worker: the text check and the input-image check run in the
 * service after the platform's ack and before anything is queued; the frame check runs in the
 * worker after the result is prepared and before it is delivered; the audit log is written at
 * submit and updated at the outcome. Nothing here knows Discord or Slack.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import { AuditLog } from './audit-log.js';
import { ImageModerator } from './image-moderator.js';
import { type ModerationSettings, moderationSettings } from './settings.js';
import { TextModerator } from './text-moderator.js';

export type { RecentQuery } from './audit-log.js';
export { AuditLog } from './audit-log.js';
export type { AuditOutcome, AuditRecord, AuditSubmission, AuditUpdate } from './audit-record.js';
export type { ImageModerationSettings } from './image-moderator.js';
export { ImageModerator } from './image-moderator.js';
export type { ImageCategory, ImageThresholds, ImageVerdict, PostingPlace } from './image-policy.js';
export { allowsFlaggedContent, framesVerdict, imageVerdict, isBlocked } from './image-policy.js';
export type { RefusalContext } from './messages.js';
export { inputImageRefusal, textRefusal, withheldResultNotice } from './messages.js';
export type {
  ClassifierInfo,
  ClassifierInput,
  ImageClassifier,
  NsfwScores,
  RgbFrame,
} from './nsfw-classifier.js';
export { nsfwClassifier } from './nsfw-classifier.js';
export type { ModerationSettings } from './settings.js';
export { moderationSettings } from './settings.js';
export type {
  TextCategory,
  TextField,
  TextModerationSettings,
  TextToCheck,
  TextVerdict,
} from './text-moderator.js';
export { TextModerator } from './text-moderator.js';

export interface Moderation {
  settings: ModerationSettings;
  text: TextModerator;
  images: ImageModerator;
  audit: AuditLog;
}

/** Everything a process needs, from its configuration; the classifier still loads only on warm() or first use. */
export function createModeration(config: Config, redis: Redis, prefix: string): Moderation {
  const settings = moderationSettings(config);
  return {
    settings,
    text: new TextModerator(settings.text),
    images: new ImageModerator(settings.images),
    audit: new AuditLog(redis, prefix, settings.auditRetentionDays),
  };
}
