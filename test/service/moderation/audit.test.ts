import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../src/service/moderation/audit-log.js';
import type { AuditSubmission } from '../../../src/service/moderation/audit-record.js';
import { cleanPrefix, testRedis, uniquePrefix } from '../../support/redis.js';

const DAY = 86_400_000;
let redis: Redis;
let prefix: string;

beforeAll(() => {
  redis = testRedis();
  prefix = uniquePrefix('audit');
});

afterAll(async () => {
  await cleanPrefix(redis, prefix);
  redis.disconnect();
});

/** A log whose clock the test moves, so retention is checked without waiting for days. */
function logAt(start: number, retentionDays = 30) {
  const clock = { now: start };
  const log = new AuditLog(redis, `${prefix}:${start}`, retentionDays, () => clock.now);
  return { log, clock, prefix: `${prefix}:${start}` };
}

const submission = (jobId: string, overrides: Partial<AuditSubmission> = {}): AuditSubmission => ({
  jobId,
  platform: 'discord',
  serverId: 'guild-1',
  channelId: 'chan-1',
  requesterId: 'user-1',
  requesterName: 'Ada',
  prompt: 'a cat passes by',
  negativePrompt: 'blurry',
  model: 'wan2.1',
  seed: 42,
  textVerdict: { status: 'ok' },
  inputVerdict: { status: 'ok', explicit: 0.01, suggestive: 0.02 },
  ...overrides,
});

describe('audit log', () => {
  it('keeps a record at submit and completes it at the outcome', async () => {
    const { log, clock } = logAt(1_000_000);
    expect(await log.recordSubmitted(submission('job-1'))).toBe(true);
    clock.now += 90_000;
    const updated = await log.update('job-1', {
      outcome: 'completed',
      resultVerdict: { status: 'ok', explicit: 0.02, suggestive: 0.05 },
      cost: { amount: 0.12, currency: 'USD' },
    });
    expect(updated).toBe(true);
    expect(await log.get('job-1')).toEqual({
      ...submission('job-1'),
      outcome: 'completed',
      resultVerdict: { status: 'ok', explicit: 0.02, suggestive: 0.05 },
      cost: { amount: 0.12, currency: 'USD' },
      submittedAt: 1_000_000,
      updatedAt: 1_090_000,
      finishedAt: 1_090_000,
    });
    expect(await log.get('job-unknown')).toBeUndefined();
  });

  it('records a refusal as finished, with the verdict but never the blocked term', async () => {
    const { log } = logAt(2_000_000);
    await log.recordSubmitted(
      submission('job-refused', {
        outcome: 'refused',
        detail: 'Your prompt contains a word this server does not allow; nothing was queued.',
        textVerdict: { status: 'flagged', field: 'prompt', category: 'server' },
      }),
    );
    expect(await log.get('job-refused')).toMatchObject({
      outcome: 'refused',
      finishedAt: 2_000_000,
      textVerdict: { status: 'flagged', field: 'prompt', category: 'server' },
    });
  });

  it('lists newest first, per server and for the whole bot, with paging', async () => {
    const { log, clock } = logAt(3_000_000);
    for (const [jobId, serverId] of [
      ['a1', 'guild-a'],
      ['b1', 'guild-b'],
      ['a2', 'guild-a'],
      ['dm', undefined],
      ['a3', 'guild-a'],
    ] as const) {
      clock.now += 1000;
      await log.recordSubmitted(submission(jobId, { serverId }));
    }
    const ids = (records: { jobId: string }[]) => records.map((record) => record.jobId);
    expect(ids(await log.recent({ serverId: 'guild-a', limit: 10 }))).toEqual(['a3', 'a2', 'a1']);
    expect(ids(await log.recent({ serverId: 'guild-b', limit: 10 }))).toEqual(['b1']);
    expect(ids(await log.recent({ limit: 10 }))).toEqual(['a3', 'dm', 'a2', 'b1', 'a1']);
    const firstPage = await log.recent({ serverId: 'guild-a', limit: 2 });
    expect(ids(firstPage)).toEqual(['a3', 'a2']);
    const before = firstPage.at(-1)!.submittedAt;
    expect(ids(await log.recent({ serverId: 'guild-a', limit: 2, before }))).toEqual(['a1']);
  });

  it('expires records after the retention and drops them from the lists', async () => {
    const { log, clock, prefix: logPrefix } = logAt(10 * DAY, 30);
    await log.recordSubmitted(submission('old'));
    const ttl = await redis.pttl(`${logPrefix}:audit:job:old`);
    expect(ttl).toBeGreaterThan(30 * DAY - 60_000);
    expect(ttl).toBeLessThanOrEqual(30 * DAY);
    expect(await redis.pttl(`${logPrefix}:audit:server:guild-1`)).toBeGreaterThan(30 * DAY - 60_000);

    clock.now += 31 * DAY;
    // Listing ignores entries past the retention even before a write trims them...
    expect(await log.recent({ serverId: 'guild-1', limit: 10 })).toEqual([]);
    await log.recordSubmitted(submission('new'));
    // ...and the next write trims them from both indexes.
    expect(await redis.zrange(`${logPrefix}:audit:server:guild-1`, '0', '-1')).toEqual(['new']);
    expect(await redis.zrange(`${logPrefix}:audit:recent`, '0', '-1')).toEqual(['new']);
  });

  it('never recreates an expired record, and a redelivered submit does not reset one that moved on', async () => {
    const { log } = logAt(4_000_000);
    expect(await log.update('never-recorded', { outcome: 'failed' })).toBe(false);
    expect(await redis.exists(`${prefix}:4000000:audit:job:never-recorded`)).toBe(0);
    await log.recordSubmitted(submission('once'));
    await log.update('once', { outcome: 'cancelled' });
    expect(await log.recordSubmitted(submission('once'))).toBe(false);
    expect(await log.get('once')).toMatchObject({ outcome: 'cancelled' });
  });

  it('stores only the audit fields, so a token handed in by mistake is dropped', async () => {
    const { log, prefix: logPrefix } = logAt(5_000_000);
    const careless = { ...submission('careless'), apiKey: 'inf_secret_value', token: 'xoxb-secret' };
    await log.recordSubmitted(careless);
    await log.update('careless', { outcome: 'completed', authorization: 'Bearer secret' } as never);
    const stored = JSON.stringify(await redis.hgetall(`${logPrefix}:audit:job:careless`));
    expect(stored).not.toMatch(/secret/);
    expect(stored).toContain('a cat passes by');
  });

  it('caps a page at 100 records', async () => {
    const { log, clock } = logAt(6_000_000);
    for (let i = 0; i < 105; i += 1) {
      clock.now += 1;
      await log.recordSubmitted(submission(`many-${i}`));
    }
    const page = await log.recent({ limit: 1000 });
    expect(page).toHaveLength(100);
    expect(page[0]!.jobId).toBe('many-104');
  });
});
