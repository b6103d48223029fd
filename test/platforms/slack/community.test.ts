import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';
import { type SlackHarness, startSlackHarness } from '../../support/slack-harness.js';

/** The community rules in Slack's words: workspace terms, quota times, a withheld result told privately. */
const redis = testRedis();
let h: SlackHarness;
let workspace: string;

async function mention(prompt: string, userId?: string) {
  const file = h.slack.addFile(h.png, { name: 'dog.png' });
  const event = h.slack.appMention({
    text: `<@${h.slack.botUserId}> ${prompt}`,
    files: [file],
    ...(userId ? { user_id: userId } : {}),
  });
  await h.slack.deliver(h.target, 'events_api', event);
  return `sl-m-${h.channel}-${String(event.event.ts)}`;
}

const ephemeralFor = (userId: string, pattern: RegExp) =>
  waitFor(
    () => h.slack.ephemerals(h.channel).find((e) => e.user === userId && pattern.test(e.text)),
    `an ephemeral answer matching ${pattern}`,
  );

beforeAll(async () => {
  h = await startSlackHarness('socket', { MODERATION_IMAGES: 'true' });
  await h.startWorker();
  await h.startBot();
  workspace = `slack:${h.slack.teamId}`;
});

afterEach(async () => {
  h.service.holdNewTasks(false);
  h.service.release();
  for (const name of ['moderation_nsfw_threshold', 'quota_per_user_per_day', 'blocked_terms'] as const) {
    await h.api!.community.settings.reset(workspace, name);
  }
});

afterAll(async () => {
  await h.close(redis);
  await redis.quit();
});

describe('Slack: the community rules', () => {
  it('refuses a prompt with a workspace’s blocked term, privately and without repeating it', async () => {
    await h.api!.community.settings.set(workspace, 'blocked_terms', 'zeppelin*');
    const before = h.service.submissions();
    const jobId = await mention('zeppelins over the bay', h.otherUserId);
    const answer = await ephemeralFor(h.otherUserId, /contains a word/);
    expect(answer.text).toBe(
      'Your prompt contains a word this workspace does not allow; nothing was queued. Reword it and try again.',
    );
    expect(await h.pipeline.queue.queue.getJob(jobId)).toBeUndefined();
    expect(h.service.submissions()).toBe(before);
  });

  it('refuses over quota with the time it frees up, in the reader’s time zone', async () => {
    await h.api!.community.settings.set(workspace, 'quota_per_user_per_day', '1');
    const first = await mention('the first of the day', h.adminId);
    await waitFor(() => h.videoOf(first), 'the first video');
    const before = h.service.submissions();
    await mention('the second of the day', h.adminId);
    const answer = await ephemeralFor(h.adminId, /quota/);
    expect(answer.text).toMatch(
      /^You have reached your quota of 1 video per 24 hours \(1 made\); nothing was queued\. The next one frees up <!date\^\d+\^\{date_short_pretty\} \{time\}\|[^>]+>\.$/,
    );
    expect(h.service.submissions()).toBe(before);
  });

  it('withholds a flagged result: no upload, the status says so, and only the requester is told why', async () => {
    h.service.holdNewTasks(true);
    const jobId = await mention('a flagged result');
    const status = await waitFor(() => h.statusOf(jobId), 'the status message');
    await waitFor(() => h.service.tasks().some((task) => task.held), 'the render to start');
    await h.api!.community.settings.set(workspace, 'moderation_nsfw_threshold', '0');
    h.service.holdNewTasks(false);
    h.service.release();
    const told = await ephemeralFor(h.userId, /not posted/);
    expect(told.text).toMatch(/^Your video was made but not posted: part of it looks like explicit content/);
    expect(told.text).toContain(jobId);
    await waitFor(
      () => h.headline(status.ts) === 'Finished, but not posted here (it did not pass the content check)',
      'the status to say it was not posted',
    );
    expect(h.videoOf(jobId)).toBeUndefined();
    expect(
      h.slack
        .ephemerals(h.channel)
        .filter((e) => e.text === told.text)
        .map((e) => e.user),
    ).toEqual([h.userId]);
  });
});
