import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_INFO } from '../../../src/core/request.js';
import { CUSTOM_ID, messageLink } from '../../../src/platforms/discord/render.js';
import { Perm } from '../../fakes/discord/index.js';
import { type DiscordHarness, MODERATORS_ROLE, startDiscordHarness } from '../../support/discord-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';

/**
 * `/kinema` (jobs, quota, help, history) and `/kinema-admin` (pause, resume, queue, cancel, config,
 * audit) end to end: the fake Discord, the real bot, a real worker and the real Redis.
 * alice is a member and one of the bot's owners (BOT_OWNER_IDS), bob a member, mod has Manage Server.
 */
const redis = testRedis();
let h: DiscordHarness;
const ALICE = '310000000000000001';
const ADMINS_ROLE = '330000000000000002';

type Shown = { id: string; text: string; buttons: { customId: string; label: string }[] };

/** The private answer to a command or click: its text (content or embed) and its buttons. */
const privateAnswer = (interactionId: string) =>
  waitFor((): Shown | undefined => {
    const original = h.discord.interaction(interactionId)?.originalMessageId;
    const message = original ? h.discord.message(original) : undefined;
    if (!message || message.editCount === 0) return undefined;
    const embed = message.embeds[0] as { description?: string } | undefined;
    const text = message.content || embed?.description || '';
    if (!text) return undefined;
    expect(message.ephemeral).toBe(true);
    const buttons = (message.components as { components: { custom_id: string; label: string }[] }[]).flatMap(
      (row) => row.components.map((b) => ({ customId: b.custom_id, label: b.label })),
    );
    return { id: message.id, text, buttons };
  }, `the private answer to ${interactionId}`);

function command(name: 'kinema' | 'kinema-admin', subcommand: string, userId: string, options = {}) {
  const invoked = h.discord.invokeSlashCommand({ userId, channelId: h.channelId, name, subcommand, options });
  return privateAnswer(invoked.id);
}
const kinema = (sub: string, userId = h.userId, options = {}) => command('kinema', sub, userId, options);
const admin = (sub: string, options = {}, userId = h.moderatorId) =>
  command('kinema-admin', sub, userId, options);

async function animate(userId: string, prompt: string) {
  await h.channelIdle();
  const invoked = h.discord.invokeSlashCommand({
    userId,
    channelId: h.channelId,
    name: 'animate',
    options: { image: { bytes: h.png, filename: 'cat.png', contentType: 'image/png' }, prompt } as never,
  });
  return { jobId: `dc-${invoked.id}`, text: await h.answer(invoked.id) };
}

const settle = (jobId: string) =>
  waitFor(
    async () => (await h.pipeline.queue.queue.getJob(jobId))?.finishedOn !== undefined,
    `${jobId} to end`,
  );
const delivered = (jobId: string) =>
  waitFor(
    async () =>
      (await h.api!.members.historyOf({ platform: 'discord', userId: ALICE })).some(
        (v) => v.jobId === jobId,
      ) || undefined,
    `${jobId} in the history`,
  );

beforeAll(async () => {
  h = await startDiscordHarness(
    { BOT_OWNER_IDS: `discord:${ALICE}`, MAX_ACTIVE_PER_USER: '5', MAX_QUEUED_PER_USER: '5' },
    {
      guilds: [
        {
          name: 'Studio',
          roles: [
            { id: MODERATORS_ROLE, name: 'Moderators', permissions: Perm.ManageMessages },
            { id: ADMINS_ROLE, name: 'Admins', permissions: Perm.ManageGuild },
          ],
          channels: [{ name: 'general' }],
          members: [
            { userId: ALICE },
            { userId: '310000000000000002' },
            { userId: '310000000000000003', roles: ['Moderators', 'Admins'] },
          ],
          botRoles: ['Moderators'],
        },
      ],
      channelBudget: false,
    },
  );
  await h.startBot();
  await h.startWorker(1);
});

afterEach(async () => {
  h.service.holdNewTasks(false);
  h.service.release();
  await waitFor(async () => (await h.pipeline.queue.queue.getActiveCount()) === 0, 'an idle queue');
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await redis.quit();
});

describe('/kinema', () => {
  it('help lists every setting with its range and default, generated from the request schema', async () => {
    const help = await kinema('help');
    for (const field of FIELD_INFO) expect(help.text).toContain(`\`${field.name}\``);
    expect(help.text).toContain(
      '`num_frames` Frames to render (4n+1; 81 ≈ 5 s at 16 fps): whole number 5 to 241; default 81',
    );
    expect(help.text).toContain('`sample_solver` Sampler: unipc, dpm++; default unipc');
    expect(help.text).toContain('`model` Which Wan model renders the video: wan2.1');
    expect(help.text).toContain("default this server's default model");
  });

  it('jobs shows what renders and waits with links, and its Cancel button cancels', async () => {
    h.service.holdNewTasks(true);
    const running = await animate(h.userId, 'a lighthouse at dusk');
    await waitFor(() => h.service.tasks().some((task) => task.held), 'the first render');
    const waiting = await animate(h.userId, 'a harbour in fog');
    const guild = h.discord.guild('Studio').id;
    const statusLink = async (jobId: string) => {
      const ref = await waitFor(() => redisStatus(jobId), 'the status ref');
      return messageLink(guild, ref.channelId, ref.messageId);
    };
    const jobs = await kinema('jobs');
    expect(jobs.text).toMatch(/\*\*Rendering \(1\)\*\*\n• “a lighthouse at dusk” · /);
    expect(jobs.text).toMatch(
      /\*\*Waiting \(1\)\*\*\n• “a harbour in fog” · #1 of 1 in line · in <#\d+> · \[status\]\(/,
    );
    expect(jobs.text).toContain(`[status](${await statusLink(running.jobId)})`);
    expect(jobs.text).toContain(`[status](${await statusLink(waiting.jobId)})`);
    expect(jobs.buttons).toEqual([
      { customId: CUSTOM_ID.cancel(running.jobId), label: 'Cancel “a lighthouse at dusk”' },
      { customId: CUSTOM_ID.cancel(waiting.jobId), label: 'Cancel “a harbour in fog”' },
    ]);
    // Another person sees none of it.
    expect((await kinema('jobs', h.otherUserId)).text).not.toContain('harbour');

    const click = h.discord.clickButton({
      messageId: jobs.id,
      customId: CUSTOM_ID.cancel(waiting.jobId),
      userId: h.userId,
    });
    expect((await privateAnswer(click.id)).text).toBe('Cancelled before it started.');
    expect(await h.pipeline.queue.queue.getJob(waiting.jobId)).toBeUndefined();
    h.service.holdNewTasks(false);
    h.service.release();
    await settle(running.jobId);
    const after = await kinema('jobs');
    expect(after.text).toMatch(/^You have no videos waiting or rendering\.\n\*\*Recent\*\*\n/);
    expect(after.text).toMatch(/• “a harbour in fog” · cancelled · <t:\d+:R>/);
    expect(after.text).toMatch(
      /• “a lighthouse at dusk” · done · <t:\d+:R> · \[video\]\(https:\/\/discord\.com\/channels\//,
    );
    expect(after.buttons).toEqual([]);
  });

  it('quota says what is used, what is left and when it frees up', async () => {
    await admin('config', { setting: 'quota_per_user_per_day', value: '3' });
    const job = await animate(h.otherUserId, 'counted against the quota');
    await settle(job.jobId);
    const quota = await kinema('quota', h.otherUserId);
    expect(quota.text).toMatch(
      /^\*\*Videos in the last 24 hours\*\*\n• You \(every server\): 1 of 3 used, 2 left; the next one frees up <t:\d+:R>\n/,
    );
    expect(quota.text).toContain('• This server: ');
    await admin('config', { setting: 'quota_per_user_per_day', reset: true });
  });

  it('history lists the caller’s videos with seed, model, length, date and link, and nobody else’s', async () => {
    const mine = await animate(h.userId, 'alice’s own comet');
    const theirs = await animate(h.otherUserId, 'bob’s secret garden');
    await settle(mine.jobId);
    await settle(theirs.jobId);
    await delivered(mine.jobId);
    const history = await kinema('history');
    expect(history.text).toMatch(/^\*\*Your last \d+ videos?\*\*\n/);
    expect(history.text).toMatch(
      /• “alice’s own comet” · seed \d+ · Wan 2\.1[^·]* · \d+\.\d s · <t:\d+:f> · \[post\]\(https:\/\/discord\.com\/channels\/\d+\/\d+\/\d+\)/,
    );
    expect(history.text).not.toContain('secret garden');
    expect((await kinema('history', h.otherUserId)).text).not.toContain('comet');
  });
});

describe('/kinema-admin', () => {
  it('is registered for Manage Server only, and refuses a member without it at run time', async () => {
    const registered = h.discord
      .commands(h.discord.guild('Studio').id)
      .find((c) => c.name === 'kinema-admin');
    expect(registered?.default_member_permissions).toBe(String(Perm.ManageGuild));
    for (const sub of ['pause', 'queue', 'config', 'audit']) {
      const answer = await admin(sub, {}, h.otherUserId);
      expect(answer.text).toBe(
        'Only members with the Manage Server permission (or the bot’s owners) can use /kinema-admin.',
      );
    }
    const cancel = await admin('cancel', { job: 'dc-1' }, h.otherUserId);
    expect(cancel.text).toMatch(/^Only members with the Manage Server permission/);
    expect((await animate(h.otherUserId, 'not paused by bob')).text).toMatch(/^Queued|^Starting|^Generating/);
  });

  it('pause: a paused server takes nothing new; resume takes requests again', async () => {
    const paused = await admin('pause');
    expect(paused.text).toMatch(/^This server is paused \(by mod\): new requests are refused/);
    const refused = await animate(h.userId, 'while paused');
    expect(refused.text).toBe(
      'Kinema is paused in this server by its admins; nothing was queued. Try again once it is resumed.',
    );
    expect(await h.pipeline.queue.queue.getJob(refused.jobId)).toBeUndefined();
    const resumed = await admin('resume');
    expect(resumed.text).toBe('Kinema is running in this server.');
    const again = await animate(h.userId, 'after resume');
    expect(await h.pipeline.queue.queue.getJob(again.jobId)).toBeDefined();
    await settle(again.jobId);
  });

  it('pause scope bot: for the bot’s owners only; the queue stops and nothing new is taken', async () => {
    expect((await admin('pause', { scope: 'bot' })).text).toBe(
      "Only the bot's owners (BOT_OWNER_IDS) can do that.",
    );
    expect(await h.pipeline.queue.queue.isPaused()).toBe(false);
    const paused = await admin('pause', { scope: 'bot' }, ALICE);
    expect(paused.text).toMatch(/^The whole bot is paused \(by alice\)/);
    expect(await h.pipeline.queue.queue.isPaused()).toBe(true);
    const refused = await animate(h.otherUserId, 'bot paused');
    expect(refused.text).toMatch(/paused/);
    expect(await h.pipeline.queue.queue.getJob(refused.jobId)).toBeUndefined();
    expect((await admin('resume', { scope: 'bot' }, ALICE)).text).toBe('Kinema is running in this server.');
    expect(await h.pipeline.queue.queue.isPaused()).toBe(false);
  });

  it('queue lists who waits for what in order; cancel takes a job id or a message link', async () => {
    h.service.holdNewTasks(true);
    const first = await animate(h.userId, 'first in line');
    await waitFor(() => h.service.tasks().some((task) => task.held), 'the first render');
    const second = await animate(h.otherUserId, 'second in line');
    const third = await animate(h.userId, 'third in line');
    const queue = await admin('queue');
    expect(queue.text).toContain(`**Rendering (1)**\n• \`${first.jobId}\` alice · “first in line”`);
    expect(queue.text).toContain(
      `**Waiting (2), in the order they start**\n• #1 of 2 · \`${second.jobId}\` bob · “second in line”\n• #2 of 2 · \`${third.jobId}\` alice · “third in line”`,
    );
    expect((await admin('cancel', { job: second.jobId })).text).toBe('Cancelled before it started.');
    const ref = await waitFor(() => redisStatus(third.jobId), 'the status of the third');
    const link = messageLink(h.discord.guild('Studio').id, ref.channelId, ref.messageId);
    expect((await admin('cancel', { job: link })).text).toBe('Cancelled before it started.');
    expect(await h.pipeline.queue.queue.getJob(third.jobId)).toBeUndefined();
    expect((await admin('cancel', { job: first.jobId })).text).toBe(
      'Cancelling: the render is being stopped.',
    );
    await settle(first.jobId);
    expect((await admin('queue')).text).toBe('Nothing is waiting or rendering in this server.');
  });

  it('config shows, sets (validated by the same schema) and resets; a change applies to the next job without a restart', async () => {
    const shown = await admin('config');
    expect(shown.text).toContain('• `model` = "wan2.1": the model a request gets when it names none');
    const bad = await admin('config', { setting: 'max_queued_per_user', value: 'lots' });
    expect(bad.text).toMatch(/^Not changed: max_queued_per_user must be/);
    const set = await admin('config', { setting: 'model', value: 'wan2.2-5b' });
    expect(set.text).toBe('`model` is now "wan2.2-5b". It applies from the next video on.');
    expect((await admin('config')).text).toContain('• `model` = "wan2.2-5b" (set here; default "wan2.1")');
    const next = await animate(h.userId, 'on the new default model');
    expect((await h.pipeline.queue.queue.getJob(next.jobId))?.data.request.model).toBe('wan2.2-5b');
    await settle(next.jobId);
    expect((await admin('config', { setting: 'model', reset: true })).text).toBe(
      '`model` is back to the default, "wan2.1". It applies from the next video on.',
    );
    const after = await animate(h.userId, 'back on the old model');
    expect((await h.pipeline.queue.queue.getJob(after.jobId))?.data.request.model).toBe('wan2.1');
    await settle(after.jobId);
  });

  it('audit shows recent records of this server, newest first', async () => {
    const job = await animate(h.otherUserId, 'for the audit');
    await settle(job.jobId);
    await waitFor(
      async () => (await h.api!.community.audit.get(job.jobId))?.outcome === 'completed',
      'the audit outcome',
    );
    const audit = await admin('audit', { limit: 3 });
    expect(audit.text).toMatch(/^\*\*Last 3 audit records, newest first\*\*\n/);
    expect(audit.text).toMatch(
      new RegExp(
        `• <t:\\d+:f> · \`${job.jobId}\` · bob · “for the audit” · wan2\\.1 · Completed · seed \\d+`,
      ),
    );
    expect((await admin('audit', { everywhere: true })).text).toBe(
      "Only the bot's owners (BOT_OWNER_IDS) can do that.",
    );
  });
});

/** The status message the bot recorded for a job. */
async function redisStatus(jobId: string) {
  const raw = await redis.get(`${h.config.KINEMA_PREFIX}:discord:status:${jobId}`);
  return raw ? (JSON.parse(raw) as { channelId: string; messageId: string }) : undefined;
}
