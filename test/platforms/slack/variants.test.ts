import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';
import { type SlackHarness, startSlackHarness } from '../../support/slack-harness.js';

/** `variants` on Slack: one status counting the videos, one upload sharing them all, each with its buttons. */
const redis = testRedis();
let h: SlackHarness;

beforeAll(async () => {
  h = await startSlackHarness('socket');
  await h.startWorker();
  await h.startBot();
});

afterAll(async () => {
  await h.close(redis);
  await redis.quit();
});

describe('Slack: variants', () => {
  it('a mention with variants=2 shows "n of 2 done" and shares both videos in one message', async () => {
    const file = h.slack.addFile(h.png, { name: 'kite.png' });
    const event = h.slack.appMention({
      text: `<@${h.slack.botUserId}> a kite climbs variants=2 seed=5`,
      files: [file],
    });
    await h.slack.deliver(h.target, 'events_api', event);
    const jobId = `sl-m-${h.channel}-${String(event.event.ts)}`;
    const status = await waitFor(() => h.statusOf(jobId), 'the group status');
    expect(h.headline(status.ts)).toMatch(/^0 of 2 done/);
    const shared = await waitFor(
      () => h.videoPosts().find((m) => (m.files ?? []).length === 2),
      'one message sharing both videos',
      30_000,
    );
    expect(h.videoPosts().filter((m) => JSON.stringify(m.blocks ?? []).includes(jobId))).toHaveLength(1);
    const blocks = JSON.stringify(shared.blocks ?? []);
    expect(blocks).toContain('#1 Rerun (new seed)');
    expect(blocks).toContain('#2 Rerun (new seed)');
    expect(blocks).toContain('seed 5');
    expect(blocks).toContain('seed 6');
    await waitFor(() => /^2 of 2 done/.test(h.headline(status.ts)), 'the status to say both are done');
    expect(h.service.submissions()).toBe(2);
  });
});
