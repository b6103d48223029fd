import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config.js';
import { moderationSettings } from '../../../src/service/moderation/settings.js';

const bot = { KINEMA_ROLE: 'bot' };

describe('moderation settings', () => {
  it('moderates text and images by default, keeps audits 30 days, and allows nothing in NSFW channels', () => {
    expect(moderationSettings(parseConfig(bot))).toEqual({
      text: { enabled: true, blocklist: [] },
      images: { enabled: true, thresholds: { explicit: 0.7, suggestive: 0.9 } },
      allowInNsfwChannels: false,
      auditRetentionDays: 30,
    });
  });

  it('reads every switch, the blocklist and the thresholds from the environment', () => {
    const settings = moderationSettings(
      parseConfig({
        ...bot,
        MODERATION_TEXT: 'false',
        MODERATION_BLOCKLIST: ' nude, *gore* ,,naked ',
        MODERATION_IMAGES: 'off',
        MODERATION_NSFW_THRESHOLD: '0',
        MODERATION_SEXY_THRESHOLD: '1',
        MODERATION_ALLOW_IN_NSFW_CHANNELS: 'true',
        AUDIT_RETENTION_DAYS: '7',
      }),
    );
    expect(settings).toEqual({
      text: { enabled: false, blocklist: ['nude', '*gore*', 'naked'] },
      images: { enabled: false, thresholds: { explicit: 0, suggestive: 1 } },
      allowInNsfwChannels: true,
      auditRetentionDays: 7,
    });
  });

  it('refuses a threshold outside 0–1 or a retention of 0 days, naming the variable', () => {
    const problems = (() => {
      try {
        parseConfig({ ...bot, MODERATION_NSFW_THRESHOLD: '70', AUDIT_RETENTION_DAYS: '0' });
      } catch (error) {
        if (error instanceof ConfigError) return error.message;
      }
      return '';
    })();
    expect(problems).toMatch(/MODERATION_NSFW_THRESHOLD must be a number from 0 to 1/);
    expect(problems).toMatch(/AUDIT_RETENTION_DAYS must be a whole number from 1 to 3650/);
  });
});
