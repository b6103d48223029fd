import { describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../src/config.js';

const base = { KINEMA_ROLE: 'bot' };
const problems = (env: Record<string, string>) => {
  try {
    parseConfig({ ...base, ...env });
    return [];
  } catch (error) {
    return (error as ConfigError).problems;
  }
};

describe('the community settings of the environment', () => {
  it('reads a price table by model and resolution, or by model alone', () => {
    const config = parseConfig({
      ...base,
      PRICE_TABLE: 'wan2.2-a14b@480p=0.20, wan2.2-a14b@720p = 0.45,wan2.1=0.1',
    });
    expect(config.PRICE_TABLE).toEqual({ 'wan2.2-a14b@480p': 0.2, 'wan2.2-a14b@720p': 0.45, 'wan2.1': 0.1 });
    expect(parseConfig(base).PRICE_TABLE).toEqual({});
  });

  it('names what is wrong in a price table, the owners and the quotas', () => {
    expect(problems({ PRICE_TABLE: 'wan9@480p=1' })).toEqual([
      expect.stringMatching(
        /^PRICE_TABLE has "wan9@480p=1"; entries are model@resolution=price or model=price/,
      ),
    ]);
    expect(problems({ BOT_OWNER_IDS: '1234567890' })).toEqual([
      'BOT_OWNER_IDS.0 must list platform:user id pairs, e.g. discord:123456789012345678,slack:U0123ABCD',
    ]);
    expect(problems({ QUOTA_OVERFLOW: 'queue', QUOTA_PER_USER_PER_DAY: '-1' })).toEqual([
      'QUOTA_PER_USER_PER_DAY must be a whole number from 0 to 1000000',
      'QUOTA_OVERFLOW must be refuse or relax',
    ]);
  });

  it('defaults to no quotas, refusing over one, and no owners', () => {
    const config = parseConfig({ ...base, BOT_OWNER_IDS: 'discord:123456789012345678, slack:U0ABC' });
    expect(config.BOT_OWNER_IDS).toEqual(['discord:123456789012345678', 'slack:U0ABC']);
    const defaults = parseConfig(base);
    expect([defaults.QUOTA_PER_USER_PER_DAY, defaults.QUOTA_TOTAL_PER_DAY, defaults.QUOTA_OVERFLOW]).toEqual([
      0,
      0,
      'refuse',
    ]);
    expect(defaults.PRICE_CURRENCY).toBe('USD');
  });
});
