import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SendEvent } from '../../../src/platforms/shared/send-scheduler.js';
import type { FakeRequestLog, JsonObject } from '../../fakes/discord/index.js';
import { type DiscordHarness, startDiscordHarness } from '../../support/discord-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

/**
 * Issue 10 items 1–3 through the real discord.js and the fake Discord, which enforces Discord's
 * unpublished budget of message creates and edits per channel (any route) and counts its 429s.
 */

const redis = testRedis();

const embedOf = (h: DiscordHarness, id: string) =>
  h.discord.message(id)?.embeds[0] as { title?: string; footer?: { text?: string } } | undefined;
/** A job's status message, as it is now (it may have moved to a fresh message). */
const statusOf = (h: DiscordHarness, jobId: string) =>
  h.discord
    .messages(h.channelId)
    .find(
      (m) =>
        m.authorId === h.discord.botUserId && embedOf(h, m.id)?.footer?.text?.startsWith(`Job ${jobId} `),
    );
const doneWithVideo = (h: DiscordHarness, jobId: string) => {
  const status = statusOf(h, jobId);
  return (
    status !== undefined &&
    embedOf(h, status.id)?.title === 'Done' &&
    status.attachments.some((a) => a.filename.endsWith('.mp4')) &&
    status
  );
};

/** What counts against a channel's budget (test/fakes/discord/channel-budget.ts), done. */
function counted(request: FakeRequestLog): boolean {
  if (request.status >= 300) return false;
  const type = (request.json as JsonObject | undefined)?.type;
  switch (`${request.method} ${request.route}`) {
    case 'POST /channels/:channel_id/messages':
    case 'PATCH /channels/:channel_id/messages/:message_id':
    case 'POST /webhooks/:application_id/:webhook_token':
    case 'PATCH /webhooks/:application_id/:webhook_token/messages/:message_id':
      return true;
    case 'POST /interactions/:interaction_id/:interaction_token/callback':
      return type === 4 || type === 7;
    default:
      return false;
  }
}

describe('a lone job, with Discord budget and cadence as in production', () => {
  let h: DiscordHarness;

  beforeAll(async () => {
    h = await startDiscordHarness(
      {},
      {},
      { service: { steps: 1, stepMs: 1 }, bot: { statusIntervalMs: 30_000 } },
    );
    await h.startBot();
    await h.startWorker();
  });

  afterAll(async () => {
    await h.worker?.close();
    await h.close(redis);
  });

  it('costs two counted operations (its status shown, then the video in it), and meets no 429', async () => {
    const since = h.discord.requests.length;
    const [invoked] = h.burst(1);
    const jobId = `dc-${invoked!.id}`;
    const result = await waitFor(() => doneWithVideo(h, jobId), 'the video in the status message');
    expect(h.discord.callbacks(invoked!.id)[0]).toMatchObject({ type: 5, status: 200 });
    const operations = h.discord.requests.slice(since).filter(counted);
    // The deferred reply edited twice through the interaction's token: the status, then the result.
    expect(operations.map((r) => `${r.method} ${r.route}`)).toEqual([
      'PATCH /webhooks/:application_id/:webhook_token/messages/:message_id',
      'PATCH /webhooks/:application_id/:webhook_token/messages/:message_id',
    ]);
    expect(operations[0]!.json).toMatchObject({ embeds: [{ title: expect.stringMatching(/^Queued/) }] });
    expect(operations[1]!.fileCount).toBe(1);
    expect(result.id).toBe(h.discord.interaction(invoked!.id)!.originalMessageId);
    expect(h.discord.attachmentBytes(result.id, 0).equals(h.video)).toBe(true);
    expect(h.discord.stats.rateLimited).toBe(0);
    expect(h.bot!.scheduler.stats.rateLimited).toBe(0);
  });

  it('puts a video that comes back before the first status is drawn into the reply: no second message', async () => {
    // A busy bot: the job is queued and rendered before the bot gets round to drawing its status.
    const api = h.api!;
    const position = api.position.bind(api);
    const since = h.discord.requests.length;
    const videoSent = () =>
      h.discord.requests.slice(since).some((r) => r.fileCount > 0 && r.status > 0 && r.status < 300);
    api.position = async (jobId) => {
      await waitFor(videoSent, 'the video before the first status').catch(() => undefined);
      return position(jobId);
    };
    try {
      await h.channelIdle();
      const [invoked] = h.burst(1);
      const jobId = `dc-${invoked!.id}`;
      const result = await waitFor(() => doneWithVideo(h, jobId), 'the video in the status message');
      expect(result.id).toBe(h.discord.interaction(invoked!.id)!.originalMessageId);
      // The late first status does not draw "Queued" over the result either.
      await h.channelIdle();
      expect(embedOf(h, result.id)?.title).toBe('Done');
      const mine = h.discord
        .messages(h.channelId, { includeEphemeral: false })
        .filter((m) => m.authorId === h.discord.botUserId && m.id > result.id);
      expect(mine).toHaveLength(0);
      expect(h.discord.requests.slice(since).filter((r) => r.fileCount > 0)).toHaveLength(1);
    } finally {
      api.position = position;
    }
  });
});

describe('a burst of /animate from several users in one channel, with an instant backend', () => {
  let h: DiscordHarness;
  // A shorter window than Discord's keeps the test short; bot and fake agree on it, as in production.
  const budget = { count: 5, windowMs: 1_000 };

  beforeAll(async () => {
    h = await startDiscordHarness(
      { MAX_ACTIVE_PER_USER: '10', MAX_QUEUED_PER_USER: '10' },
      { channelBudget: budget },
      { service: { steps: 1, stepMs: 1 }, bot: { channelBudget: budget } },
    );
    await h.startBot();
    await h.startWorker(4);
  });

  afterAll(async () => {
    await h.worker?.close();
    await h.close(redis);
  });

  it('acknowledges every command before any command downloads or queues, then posts every video with no 429', async () => {
    const since = h.discord.requests.length;
    const burst = h.burst(15);
    const jobIds = burst.map((invoked) => `dc-${invoked.id}`);
    for (const jobId of jobIds) await waitFor(() => doneWithVideo(h, jobId), `the video of ${jobId}`);

    const acks = burst.map((invoked) => h.discord.callbacks(invoked.id)[0]!);
    expect(acks.every((ack) => ack.type === 5 && ack.status === 200)).toBe(true);
    const lastAck = Math.max(...acks.map((ack) => ack.at));
    const downloads = h.discord.requests
      .slice(since)
      .filter((r) => r.route === '/attachments/:channel_id/:attachment_id/:filename');
    expect(downloads).toHaveLength(15);
    expect(Math.min(...downloads.map((r) => r.at))).toBeGreaterThanOrEqual(lastAck);
    const jobs = await Promise.all(jobIds.map((jobId) => h.pipeline.queue.queue.getJob(jobId)));
    expect(Math.min(...jobs.map((job) => job!.timestamp))).toBeGreaterThanOrEqual(lastAck);

    expect(h.discord.stats.rateLimited).toBe(0);
    expect(h.discord.stats.channelBudgetRefusals()).toBe(0);
    expect(h.bot!.scheduler.stats.rateLimited).toBe(0);
    // One status per job: each job's video is in it, and nothing else of the bot is left in the channel.
    // A status buried by later messages moves: the fresh post comes first, then the old one is deleted,
    // so for a moment after the last video there may be one more; it must not stay.
    const botPosts = () =>
      h.discord
        .messages(h.channelId, { includeEphemeral: false })
        .filter((m) => m.authorId === h.discord.botUserId);
    await waitFor(
      () => botPosts().length <= 15,
      'the moved statuses to leave one message per job',
      5_000,
    ).catch(() => undefined);
    const posts = botPosts();
    expect(posts).toHaveLength(15);
    const statusIds = jobIds.map((jobId) => (doneWithVideo(h, jobId) || undefined)?.id);
    expect(statusIds).not.toContain(undefined);
    expect(new Set(statusIds).size).toBe(15);
  });
});

describe('a busy channel: coalescing and priorities', () => {
  let h: DiscordHarness;

  beforeAll(async () => {
    // Long renders with a step every 20 ms: far more progress than a channel may show.
    h = await startDiscordHarness({}, {}, { service: { steps: 150, stepMs: 20 } });
    await h.startBot();
    await h.startWorker(2);
  });

  afterAll(async () => {
    await h.worker?.close();
    await h.close(redis);
    await redis.quit();
  });

  it('shows the latest state of each job in few edits, and sends a video before progress edits that waited longer', async () => {
    const events: SendEvent[] = [];
    const stop = h.bot!.scheduler.watch((event) => events.push(event));
    const since = h.discord.requests.length;
    const [first, second] = h.burst(2).map((invoked) => `dc-${invoked.id}`);
    const results = [];
    for (const jobId of [first!, second!]) results.push(await waitFor(() => doneWithVideo(h, jobId), jobId));
    stop();

    const edits = (messageId: string) =>
      h.discord.requests
        .slice(since)
        .filter((r) => counted(r) && r.method === 'PATCH')
        .filter((r) => r.path.endsWith(`/${messageId}`) || r.path.endsWith('/@original'));
    // 150 progress updates per job; the status message was edited a handful of times, ending on Done.
    expect(edits(results[0]!.id).length).toBeLessThan(150);
    expect(h.bot!.scheduler.stats.coalesced).toBeGreaterThan(0);
    expect(h.discord.stats.rateLimited).toBe(0);

    // Every result that started went ahead of the progress edits that were waiting when it came.
    let overtaken = 0;
    for (const result of events.filter((e) => e.type === 'started' && e.priority === 'urgent')) {
      const queued = events.filter(
        (e) => e.type === 'queued' && e.key === result.key && e.priority === 'urgent',
      );
      const resultQueuedAt = Math.min(...queued.filter((e) => e.at <= result.at).map((e) => e.at));
      for (const key of new Set(events.filter((e) => e.priority === 'progress').map((e) => e.key))) {
        if (key === result.key) continue;
        const waitingSince = events.findLast(
          (e) => e.key === key && e.type === 'queued' && e.priority === 'progress' && e.at <= resultQueuedAt,
        );
        if (!waitingSince) continue;
        const next = events.find((e) => e.key === key && e.type === 'started' && e.at >= waitingSince.at);
        if (next && next.at <= resultQueuedAt) continue;
        expect(next === undefined || next.at >= result.at).toBe(true);
        overtaken += 1;
      }
    }
    expect(overtaken).toBeGreaterThan(0);
  });
});
