import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_INFO } from '../../../src/core/request.js';
import type { JsonObject } from '../../fakes/slack/index.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';
import { type SlackHarness, startSlackHarness } from '../../support/slack-harness.js';

/**
 * `/animate jobs|quota|history|help` and `/animate admin …` end to end through the real Bolt app,
 * the fake Slack, a real worker and the real Redis. U0TESTUSER is a member and one of the bot's
 * owners, bob a member, ada a workspace admin (users.info is_admin).
 */
const redis = testRedis();
let h: SlackHarness;

interface Answer {
  text: string;
  blocks?: JsonObject[];
  response_type?: string;
}

/** Runs a slash command and returns what it answered privately (the ack, else its response_url post). */
async function animate(text: string, userId = h.userId): Promise<Answer> {
  const command = h.slack.slashCommand({ text, user_id: userId });
  const acked = await h.slack.deliver(h.target, 'slash_commands', command);
  expect(acked.acked).toBe(true);
  if (acked.body) return acked.body as unknown as Answer;
  const post = await waitFor(
    () => h.slack.responseUrlPosts().find((p) => p.url === command.response_url),
    `the answer to /animate ${text}`,
  );
  const body = post.body as Answer;
  expect(body.response_type).toBe('ephemeral');
  return body;
}
const admin = (text: string, userId = h.adminId) => animate(`admin ${text}`, userId);

async function mention(prompt: string, userId = h.userId) {
  const file = h.slack.addFile(h.png, { name: 'dog.png' });
  const event = h.slack.appMention({
    text: `<@${h.slack.botUserId}> ${prompt}`,
    files: [file],
    user_id: userId,
  });
  await h.slack.deliver(h.target, 'events_api', event);
  return `sl-m-${h.channel}-${String(event.event.ts)}`;
}
const settle = (jobId: string) =>
  waitFor(
    async () => (await h.pipeline.queue.queue.getJob(jobId))?.finishedOn !== undefined,
    `${jobId} to end`,
  );
const posted = (jobId: string) => waitFor(() => h.videoOf(jobId), `the video of ${jobId}`);

beforeAll(async () => {
  h = await startSlackHarness('socket', { BOT_OWNER_IDS: 'slack:U0TESTUSER' });
  await h.startWorker();
  await h.startBot();
});

afterEach(async () => {
  h.service.holdNewTasks(false);
  h.service.release();
  // A failed test leaves nothing paused for the next.
  await h.api!.community.pause.resumeServer(`slack:${h.slack.teamId}`);
  await h.api!.community.pause.resumeBot();
  await waitFor(async () => (await h.pipeline.queue.queue.getActiveCount()) === 0, 'an idle queue');
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await redis.quit();
});

describe('/animate jobs, quota, history, help', () => {
  it('help lists every setting with its range and default', async () => {
    const help = await animate('help');
    expect(help.response_type).toBe('ephemeral');
    for (const field of FIELD_INFO) expect(help.text).toContain(`\`${field.name}\``);
    expect(help.text).toContain(
      '`num_frames` Frames to render (4n+1; 81 ≈ 5 s at 16 fps): whole number 5 to 241; default 81',
    );
    expect(help.text).toContain("default this workspace's default model");
  });

  it('jobs lists rendering and waiting jobs with links and a Cancel button each, which cancels', async () => {
    h.service.holdNewTasks(true);
    const running = await mention('a windmill turning');
    await waitFor(() => h.service.tasks().some((task) => task.held), 'the first render');
    const waiting = await mention('a kite in the wind');
    const status = await waitFor(() => h.statusOf(waiting), 'the waiting status');
    const jobs = await animate('jobs');
    expect(jobs.text).toMatch(/^\*Rendering \(1\)\*\n• “a windmill turning” · /);
    // The status of a mention lives in the mention's thread: the link opens it there.
    expect(jobs.text).toContain(
      `*Waiting (1)*\n• “a kite in the wind” · #1 of 1 in line · in <#${h.channel}> · <https://kinema-test.slack.com/archives/${h.channel}/p${status.ts.replace('.', '')}?thread_ts=${status.thread_ts}&cid=${h.channel}|status>`,
    );
    const buttons = (jobs.blocks ?? []).flatMap((block) =>
      block.accessory ? [block.accessory as JsonObject] : [],
    );
    expect(buttons.map((b) => [b.action_id, b.value, (b.text as JsonObject).text])).toEqual([
      ['kinema_cancel', running, 'Cancel'],
      ['kinema_cancel', waiting, 'Cancel'],
    ]);
    expect((await animate('jobs', h.otherUserId)).text).not.toContain('kite');

    const click = h.slack.blockAction({
      action_id: 'kinema_cancel',
      value: waiting,
      ephemeral: true,
      message: { type: 'message', ts: '1700000000.000100', text: jobs.text, blocks: jobs.blocks as never },
    });
    await h.slack.deliver(h.target, 'interactive', click);
    const told = await waitFor(
      () => h.slack.responseUrlPosts().find((p) => p.url === click.response_url),
      'the answer to the click',
    );
    expect((told.body as Answer).text).toBe('Cancelled before it started.');
    expect(await h.pipeline.queue.queue.getJob(waiting)).toBeUndefined();
  });

  it('quota says used, left and when it frees up, in the reader’s time zone', async () => {
    await admin('config quota_per_user_per_day 3');
    const job = await mention('counted', h.otherUserId);
    await settle(job);
    const quota = await animate('quota', h.otherUserId);
    expect(quota.text).toMatch(
      /^\*Videos in the last 24 hours\*\n• You \(every server\): 1 of 3 used, 2 left; the next one frees up <!date\^\d+\^\{date_short_pretty\} \{time\}\|[^>]+>\n• This workspace: /,
    );
    await admin('config reset quota_per_user_per_day');
  });

  it('history lists the caller’s own videos with seed, model, length, date and link; nobody else’s', async () => {
    const mine = await mention('my own aurora');
    const theirs = await mention('their private pond', h.otherUserId);
    await posted(mine);
    await posted(theirs);
    await settle(mine);
    const video = h.videoOf(mine)!;
    await waitFor(
      async () => (await animate('history')).text.includes('aurora') || undefined,
      'the history entry',
    );
    const history = await animate('history');
    expect(history.text).toMatch(
      new RegExp(
        `• “my own aurora” · seed \\d+ · Wan 2\\.1[^·]* · \\d+\\.\\d s · <!date\\^\\d+\\^[^>]+> · <https://kinema-test\\.slack\\.com/archives/${h.channel}/p${video.ts.replace('.', '')}\\?thread_ts=${video.thread_ts}&cid=${h.channel}\\|post>`,
      ),
    );
    expect(history.text).not.toContain('pond');
    expect((await animate('history', h.otherUserId)).text).not.toContain('aurora');
  });
});

describe('/animate admin', () => {
  it('refuses a member who is not a workspace admin or owner, for every subcommand', async () => {
    for (const sub of ['pause', 'resume', 'queue', 'cancel sl-x', 'config', 'audit', '']) {
      expect((await admin(sub, h.otherUserId)).text).toBe(
        'Only workspace admins and owners (or the bot’s owners) can use `/animate admin`.',
      );
    }
    expect(await h.api!.community.pause.serverPaused(`slack:${h.slack.teamId}`)).toBeUndefined();
  });

  it('pause: a paused workspace takes nothing new; resume; the whole bot for its owners only', async () => {
    expect((await admin('pause')).text).toMatch(/^This workspace is paused \(by ada\)/);
    const before = h.service.submissions();
    const refused = await mention('while paused', h.otherUserId);
    await waitFor(
      () => h.slack.ephemerals(h.channel).find((e) => e.user === h.otherUserId && /paused/.test(e.text)),
      'the paused refusal',
    );
    expect(await h.pipeline.queue.queue.getJob(refused)).toBeUndefined();
    expect(h.service.submissions()).toBe(before);
    expect((await admin('resume')).text).toBe('Kinema is running in this workspace.');
    expect((await admin('pause bot')).text).toBe("Only the bot's owners (BOT_OWNER_IDS) can do that.");
    expect((await admin('pause bot', h.userId)).text).toMatch(/^The whole bot is paused/);
    expect(await h.pipeline.queue.queue.isPaused()).toBe(true);
    expect((await admin('resume bot', h.userId)).text).toBe('Kinema is running in this workspace.');
    expect(await h.pipeline.queue.queue.isPaused()).toBe(false);
  });

  it('queue shows who waits for what in order; cancel takes a job id or a message link', async () => {
    h.service.holdNewTasks(true);
    const first = await mention('first slack job');
    await waitFor(() => h.service.tasks().some((task) => task.held), 'the first render');
    const second = await mention('second slack job', h.otherUserId);
    const third = await mention('third slack job');
    await waitFor(() => h.statusOf(third), 'the third status');
    const queue = await admin('queue');
    expect(queue.text).toContain(`*Rendering (1)*\n• \`${first}\` tester · “first slack job”`);
    expect(queue.text).toContain(
      `• #1 of 2 · \`${second}\` bob · “second slack job”\n• #2 of 2 · \`${third}\` tester · “third slack job”`,
    );
    expect((await admin(`cancel ${second}`)).text).toBe('Cancelled before it started.');
    const status = h.statusOf(third)!;
    const link = `<https://kinema-test.slack.com/archives/${h.channel}/p${status.ts.replace('.', '')}>`;
    expect((await admin(`cancel ${link}`)).text).toBe('Cancelled before it started.');
    expect(await h.pipeline.queue.queue.getJob(third)).toBeUndefined();
    expect((await admin(`cancel ${first}`)).text).toBe('Cancelling: the render is being stopped.');
    await settle(first);
  });

  it('config shows, sets (validated) and resets; the next job runs under it without a restart', async () => {
    expect((await admin('config')).text).toContain('• `model` = "wan2.1": the model a request gets');
    expect((await admin('config max_queued_per_user lots')).text).toMatch(
      /^Not changed: max_queued_per_user must be/,
    );
    expect((await admin('config model wan2.2-5b')).text).toBe(
      '`model` is now "wan2.2-5b". It applies from the next video on.',
    );
    const next = await mention('on the new model');
    await waitFor(() => h.pipeline.queue.queue.getJob(next), 'the job');
    expect((await h.pipeline.queue.queue.getJob(next))?.data.request.model).toBe('wan2.2-5b');
    await settle(next);
    expect((await admin('config reset model')).text).toBe(
      '`model` is back to the default, "wan2.1". It applies from the next video on.',
    );
  });

  it('audit shows recent records; everywhere is for the bot’s owners', async () => {
    const job = await mention('audited', h.otherUserId);
    await settle(job);
    await waitFor(
      async () => (await h.api!.community.audit.get(job))?.outcome === 'completed',
      'the audit outcome',
    );
    const audit = await admin('audit 2');
    expect(audit.text).toMatch(/^\*Last 2 audit records, newest first\*\n/);
    expect(audit.text).toContain(`\`${job}\` · bob · “audited” · wan2.1 · Completed · seed `);
    expect((await admin('audit everywhere')).text).toBe("Only the bot's owners (BOT_OWNER_IDS) can do that.");
    expect((await admin('audit everywhere', h.userId)).text).toMatch(/^\*Last \d+ audit records?/);
  });
});
