import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_INFO } from '../../../src/core/request.js';
import type { JsonObject } from '../../fakes/slack/index.js';
import { makePng, PDF_BYTES } from '../../support/media.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';
import { type SlackHarness, type SlackMode, startSlackHarness } from '../../support/slack-harness.js';

const numberInput = (value: string) => ({ type: 'number_input', value });

/**
 * The Slack adapter end to end, through the real Bolt app in either connection mode, against the
 * fake Slack, a real Redis, a real worker and real ffmpeg. `extra` adds mode-specific tests.
 */
export function slackSuite(mode: SlackMode, extra?: (h: () => SlackHarness) => void): void {
  const redis: Redis = testRedis();
  let h: SlackHarness;

  const counts = () => h.pipeline.queue.queue.getJobCounts();
  const job = (jobId: string) => h.pipeline.queue.queue.getJob(jobId);

  async function openModal(text: string, userId?: string) {
    const command = h.slack.slashCommand({ text, ...(userId ? { user_id: userId } : {}) });
    const answer = await h.slack.deliver(h.target, 'slash_commands', command);
    expect(answer.acked).toBe(true);
    const opened = await waitFor(
      () => h.slack.views().find((view) => view.trigger_id === command.trigger_id),
      'the modal',
    );
    return { command, viewId: opened.view_id, view: opened.view };
  }

  function submit(viewId: string, values: Record<string, Record<string, unknown>>, userId?: string) {
    return h.slack.deliver(
      h.target,
      'interactive',
      h.slack.viewSubmission({ view_id: viewId, values, ...(userId ? { user_id: userId } : {}) }),
    );
  }

  /** A mention with an image, run to its posted video. */
  async function mentionToVideo(prompt: string) {
    const file = h.slack.addFile(h.png, { name: 'dog.png' });
    const mention = h.slack.appMention({ text: `<@${h.slack.botUserId}> ${prompt}`, files: [file] });
    await h.slack.deliver(h.target, 'events_api', mention);
    const ts = String(mention.event.ts);
    const jobId = `sl-m-${h.channel}-${ts}`;
    const status = await waitFor(() => h.statusOf(jobId), 'the status message');
    const video = await waitFor(() => h.videoOf(jobId), 'the video');
    await waitFor(() => h.headline(status.ts) === 'Done', 'the status to say Done');
    return { jobId, mentionTs: ts, status, video };
  }

  const ephemeralFor = (userId: string, pattern: RegExp) =>
    waitFor(
      () =>
        h.slack.ephemerals(h.channel).find((e) => e.user === userId && pattern.test(e.text)) ??
        h.slack
          .responseUrlPosts()
          .find((p) => pattern.test(String((p.body as { text?: string } | undefined)?.text ?? ''))),
      `an ephemeral answer matching ${pattern}`,
    );

  beforeAll(async () => {
    h = await startSlackHarness(mode);
    await h.startWorker();
    await h.startBot();
  });

  afterEach(() => {
    h.service.holdNewTasks(false);
    h.service.release();
  });

  afterAll(async () => {
    await h?.worker?.close();
    await h?.close(redis);
    await redis.quit();
  });

  describe(`Slack adapter end to end through the real Bolt app (${mode === 'http' ? 'HTTP receiver' : 'Socket Mode'})`, () => {
    it('/animate opens the modal at once, built from the request schema, with the prompt prefilled', async () => {
      const { view } = await openModal('the cat yawns seed=7');
      const blocks = view.blocks as Array<{ block_id?: string; type: string; element?: JsonObject }>;
      const inputs = blocks.filter((block) => block.type === 'input');
      expect(inputs.map((block) => block.block_id)).toEqual([
        'image',
        'end_frame',
        ...FIELD_INFO.filter((field) => field.common).map((field) => field.name),
        'advanced',
      ]);
      expect(inputs[0]!.element).toMatchObject({ type: 'file_input', max_files: 1 });
      expect(inputs.find((b) => b.block_id === 'prompt')!.element).toMatchObject({
        type: 'plain_text_input',
        initial_value: 'the cat yawns',
      });
      expect(inputs.find((b) => b.block_id === 'advanced')!.element).toMatchObject({
        initial_value: 'seed=7',
      });
      expect(inputs.find((b) => b.block_id === 'model')!.element).toMatchObject({ type: 'static_select' });
      expect(inputs.find((b) => b.block_id === 'num_frames')!.element).toMatchObject({
        type: 'number_input',
        min_value: '5',
        max_value: '241',
      });
    });

    it('a valid submission is queued, its one status message kept current with chat.update, and the mp4 uploaded', async () => {
      h.service.holdNewTasks(true);
      const { viewId } = await openModal('the cat yawns');
      const answer = await submit(viewId, {
        image: { file: h.slack.fileInput([{ bytes: h.png, name: 'cat.png', mimetype: 'image/png' }]) },
        prompt: { value: h.slack.textInput('the cat yawns') },
        seed: { value: numberInput('1234') },
      });
      expect(answer).toMatchObject({ acked: true, body: undefined });
      const jobId = `sl-${viewId}`;
      const status = await waitFor(() => h.statusOf(jobId), 'the status message');
      expect(status.thread_ts).toBeUndefined();
      await waitFor(() => /Waiting for a GPU|Generating/.test(h.headline(status.ts)), 'a running status');
      expect(JSON.stringify(h.slack.message(h.channel, status.ts)!.blocks)).toContain('kinema_cancel');
      h.service.release();
      const post = await waitFor(() => h.videoOf(jobId), 'the video post');
      expect(post.source).toBe('files.completeUploadExternal');
      expect(h.slack.uploadedFile(post.files![0]!.id)!.equals(h.video)).toBe(true);
      const caption = JSON.stringify(post.blocks);
      expect(caption).toContain('the cat yawns');
      expect(caption).toContain('seed 1234');
      expect(caption).toContain('Wan 2.1');
      expect(caption).toContain(`<@${h.userId}>`);
      await waitFor(() => h.headline(status.ts) === 'Done', 'the status to say Done');
      expect(JSON.stringify(h.slack.message(h.channel, status.ts)!.blocks)).not.toContain('kinema_cancel');
      expect(h.slack.updates(h.channel, status.ts).length).toBeGreaterThanOrEqual(2);
      const apiCalls = h.slack.calls().filter((call) => call.method !== 'apps.connections.open');
      expect(apiCalls.every((call) => call.auth === 'bot')).toBe(true);
      expect(h.slack.fileFetches().every((fetch) => fetch.authorized)).toBe(true);
      const stored = await job(jobId);
      expect(stored?.data.request).toMatchObject({ prompt: 'the cat yawns', seed: 1234, model: 'wan2.1' });
    });

    it('shows bad settings and a non-image file inline in the modal, keyed by block id, and queues nothing', async () => {
      const before = await counts();
      const { viewId } = await openModal('');
      const answer = await submit(viewId, {
        image: { file: h.slack.fileInput([{ bytes: 'hello', name: 'notes.txt', mimetype: 'text/plain' }]) },
        prompt: { value: h.slack.textInput('a cat') },
        num_frames: { value: numberInput('80') },
        advanced: { value: h.slack.textInput('colour=red') },
      });
      const body = answer.body as { response_action?: string; errors?: Record<string, string> };
      expect(body.response_action).toBe('errors');
      expect(body.errors?.image).toMatch(/not an image/);
      expect(body.errors?.num_frames).toMatch(/4n\+1/);
      expect(body.errors?.advanced).toMatch(/unknown setting colour/);
      expect(await counts()).toEqual(before);
      expect(await job(`sl-${viewId}`)).toBeUndefined();
    });

    it('refuses a file that claims to be a PNG but is an HTML page, privately after closing the modal, queueing nothing', async () => {
      const before = await counts();
      const { viewId, command } = await openModal('');
      const html = Buffer.from('<!DOCTYPE html><html><body>Sign in</body></html>');
      const answer = await submit(viewId, {
        image: { file: h.slack.fileInput([{ bytes: html, name: 'fake.png', mimetype: 'image/png' }]) },
        prompt: { value: h.slack.textInput('a cat') },
      });
      expect(answer).toMatchObject({ acked: true, body: undefined });
      const post = await waitFor(
        () => h.slack.responseUrlPosts().find((p) => p.url === command.response_url),
        'the ephemeral answer',
      );
      expect(post.body).toMatchObject({ response_type: 'ephemeral' });
      expect((post.body as { text: string }).text).toMatch(/HTML page/);
      expect(await counts()).toEqual(before);
      expect(await job(`sl-${viewId}`)).toBeUndefined();
    });

    it('an end frame from the modal (its own optional file input) reaches the backend as the last frame', async () => {
      const end = await makePng(192, 96);
      const { viewId, view } = await openModal('the cat turns');
      const blocks = view.blocks as Array<{ block_id?: string; optional?: boolean; element?: JsonObject }>;
      expect(blocks.find((b) => b.block_id === 'end_frame')).toMatchObject({
        optional: true,
        element: { type: 'file_input', max_files: 1 },
      });
      await submit(viewId, {
        image: { file: h.slack.fileInput([{ bytes: h.png, name: 'start.png', mimetype: 'image/png' }]) },
        end_frame: { file: h.slack.fileInput([{ bytes: end, name: 'end.png', mimetype: 'image/png' }]) },
        prompt: { value: h.slack.textInput('the cat turns') },
      });
      const jobId = `sl-${viewId}`;
      await waitFor(() => h.videoOf(jobId), 'the video');
      const task = h.service.tasks().find((t) => t.input?.prompt === 'the cat turns');
      expect(task?.input?.endFrame).toMatchObject({ width: 192, height: 96 });
      expect((await job(jobId))?.data.request.input_image.width).not.toBe(192);
    });

    it('a mention with two images uses the first as the start and the second as the end frame', async () => {
      const end = await makePng(192, 96);
      const start = h.slack.addFile(h.png, { name: 'start.png' });
      const last = h.slack.addFile(end, { name: 'end.png' });
      const mention = h.slack.appMention({
        text: `<@${h.slack.botUserId}> the dog jumps into the pool`,
        files: [start, last],
      });
      await h.slack.deliver(h.target, 'events_api', mention);
      const jobId = `sl-m-${h.channel}-${String(mention.event.ts)}`;
      await waitFor(() => h.videoOf(jobId), 'the video');
      const request = (await job(jobId))?.data.request;
      expect(request?.end_frame).toMatchObject({ width: 192, height: 96 });
      expect(request?.input_image.width).not.toBe(192);
      const task = h.service.tasks().find((t) => t.input?.prompt === 'the dog jumps into the pool');
      expect(task?.input?.endFrame).toMatchObject({ width: 192, height: 96 });
    });

    it('a mention with an image is queued once, however often Slack delivers it, and the video lands in its thread', async () => {
      const submissionsBefore = h.service.submissions();
      const file = h.slack.addFile(h.png, { name: 'dog.png' });
      const mention = h.slack.appMention({
        text: `<@${h.slack.botUserId}> the dog wags its tail seed=77 num_frames=49`,
        files: [file],
      });
      const ts = String(mention.event.ts);
      // The same message as a file_share message event (platform notes S1), and a redelivery of the mention.
      const twin = h.slack.eventCallback({
        type: 'message',
        subtype: 'file_share',
        text: mention.event.text as string,
        user: h.userId,
        ts,
        channel: h.channel,
        channel_type: 'channel',
        files: [file] as unknown as JsonObject[],
      } as JsonObject);
      expect((await h.slack.deliver(h.target, 'events_api', mention)).acked).toBe(true);
      expect((await h.slack.deliver(h.target, 'events_api', twin)).acked).toBe(true);
      expect(
        (await h.slack.deliver(h.target, 'events_api', mention, { retryNum: 1, retryReason: 'http_timeout' }))
          .acked,
      ).toBe(true);
      const jobId = `sl-m-${h.channel}-${ts}`;
      const status = await waitFor(() => h.statusOf(jobId), 'the status message');
      expect(status.thread_ts).toBe(ts);
      const video = await waitFor(() => h.videoOf(jobId), 'the video');
      expect(video.thread_ts).toBe(ts);
      expect(JSON.stringify(video.blocks)).toContain('seed 77');
      expect((await job(jobId))?.data.request).toMatchObject({
        prompt: 'the dog wags its tail',
        num_frames: 49,
      });
      await waitFor(() => h.headline(status.ts) === 'Done', 'the status to say Done');
      expect(
        h.botMessages().filter((m) => JSON.stringify(m.blocks ?? []).includes(`Job \`${jobId}\``)),
      ).toHaveLength(1);
      expect(h.service.submissions()).toBe(submissionsBefore + 1);
    });

    it('answers a mention with a non-image file privately and queues nothing', async () => {
      const before = await counts();
      const pdf = h.slack.addFile(PDF_BYTES, { name: 'doc.pdf', mimetype: 'application/pdf' });
      await h.slack.deliver(
        h.target,
        'events_api',
        h.slack.appMention({ text: `<@${h.slack.botUserId}> animate this`, files: [pdf] }),
      );
      await ephemeralFor(h.userId, /doc\.pdf” is not an image/);
      // Declared as PNG, really a PDF: caught by the magic bytes after the download.
      const liar = h.slack.addFile(PDF_BYTES, { name: 'liar.png', mimetype: 'image/png' });
      await h.slack.deliver(
        h.target,
        'events_api',
        h.slack.appMention({ text: `<@${h.slack.botUserId}> animate this`, files: [liar] }),
      );
      await ephemeralFor(h.userId, /not an image \(it looks like a PDF document\)/);
      expect(await counts()).toEqual(before);
    });

    it('"Animate this image" on a message with an image asks for the prompt in a modal and animates that image', async () => {
      const file = h.slack.addFile(h.png, { name: 'bird.png' });
      const posted = h.slack.postUserMessage({ text: 'look at this bird', files: [file] });
      const shortcut = h.slack.messageShortcut({
        callback_id: 'kinema_animate_message',
        message_ts: posted.ts,
      });
      expect((await h.slack.deliver(h.target, 'interactive', shortcut)).acked).toBe(true);
      const opened = await waitFor(
        () => h.slack.views().find((view) => view.trigger_id === shortcut.trigger_id),
        'the modal',
      );
      const blocks = opened.view.blocks as Array<{ block_id?: string; type: string }>;
      expect(blocks.some((block) => block.block_id === 'image')).toBe(false);
      expect(JSON.stringify(blocks)).toContain('bird.png');
      await submit(opened.view_id, { prompt: { value: h.slack.textInput('the bird flies away') } });
      const jobId = `sl-${opened.view_id}`;
      const status = await waitFor(() => h.statusOf(jobId), 'the status message');
      expect(status.thread_ts).toBe(posted.ts);
      const video = await waitFor(() => h.videoOf(jobId), 'the video');
      expect(video.thread_ts).toBe(posted.ts);
      expect(JSON.stringify(video.blocks)).toContain('the bird flies away');

      const plain = h.slack.postUserMessage({ text: 'no picture here' });
      const refused = h.slack.messageShortcut({
        callback_id: 'kinema_animate_message',
        message_ts: plain.ts,
      });
      await h.slack.deliver(h.target, 'interactive', refused);
      const answer = await waitFor(
        () => h.slack.responseUrlPosts().find((p) => p.url === refused.response_url),
        'the ephemeral answer',
      );
      expect((answer.body as { text: string }).text).toMatch(/has no image/);
      expect(h.slack.views().some((view) => view.trigger_id === refused.trigger_id)).toBe(false);
    });

    it('reruns with a new seed on :game_die: and on the Rerun button; a redelivered reaction and a double click start one job each', async () => {
      const first = await mentionToVideo('the fox jumps');
      const parent = await job(first.jobId);

      const reaction = h.slack.reactionAdded({
        reaction: 'game_die',
        item: { channel: h.channel, ts: first.video.ts },
      });
      await h.slack.deliver(h.target, 'events_api', reaction);
      await h.slack.deliver(h.target, 'events_api', reaction, { retryNum: 1 });
      const byReaction = `sl-${reaction.event_id}`;
      await waitFor(() => h.videoOf(byReaction), 'the rerun video (reaction)');
      const rerun = await job(byReaction);
      expect(rerun?.data.parentJobId).toBe(first.jobId);
      expect(rerun?.data.request.prompt).toBe('the fox jumps');
      expect(rerun?.data.request.input_image).toEqual(parent?.data.request.input_image);
      expect(h.statusOf(byReaction)?.thread_ts).toBe(first.mentionTs);

      // Another person (one user's reaction and click within seconds would count as one rerun).
      const before = h.service.submissions();
      const click = () =>
        h.slack.deliver(
          h.target,
          'interactive',
          h.slack.blockAction({
            action_id: 'kinema_rerun',
            value: first.jobId,
            message_ts: first.video.ts,
            user_id: h.otherUserId,
          }),
        );
      const [a, b] = await Promise.all([click(), click()]);
      expect(a.acked && b.acked).toBe(true);
      const reruns = () =>
        h.videoPosts().filter((m) => JSON.stringify(m.blocks).includes(`Rerun of \`${first.jobId}\``));
      await waitFor(() => reruns().length === 2, 'the rerun video (button)');
      await ephemeralFor(h.otherUserId, /Already rerunning/);
      // The reaction's rerun and one button rerun: the redelivery and the double click added nothing.
      expect(h.service.submissions()).toBe(before + 1);
    });

    it('cancels from the status message: not for others, yes for the requester (button) and for a workspace admin (:x:)', async () => {
      h.service.holdNewTasks(true);
      const start = async (prompt: string) => {
        const file = h.slack.addFile(h.png, { name: 'cat.png' });
        const mention = h.slack.appMention({ text: `<@${h.slack.botUserId}> ${prompt}`, files: [file] });
        await h.slack.deliver(h.target, 'events_api', mention);
        const jobId = `sl-m-${h.channel}-${String(mention.event.ts)}`;
        return { jobId, status: await waitFor(() => h.statusOf(jobId), 'the status message') };
      };
      const first = await start('the cat sleeps');
      const cancelClick = (userId: string) =>
        h.slack.blockAction({
          action_id: 'kinema_cancel',
          value: first.jobId,
          message_ts: first.status.ts,
          user_id: userId,
        });
      const refusedClick = cancelClick(h.otherUserId);
      await h.slack.deliver(h.target, 'interactive', refusedClick);
      const refused = await waitFor(
        () => h.slack.responseUrlPosts().find((p) => p.url === refusedClick.response_url),
        'the refusal',
      );
      expect((refused.body as { text: string }).text).toMatch(/Only the person who asked/);
      expect(await h.pipeline.queue.state(first.jobId)).not.toBe('failed');

      await h.slack.deliver(h.target, 'interactive', cancelClick(h.userId));
      await waitFor(() => /^Cancelled by/.test(h.headline(first.status.ts)), 'the status to say Cancelled');

      const second = await start('the cat wakes up');
      await h.slack.deliver(
        h.target,
        'events_api',
        h.slack.reactionAdded({
          reaction: 'x',
          item: { channel: h.channel, ts: second.status.ts },
          user: h.adminId,
        }),
      );
      await waitFor(() => /^Cancelled by/.test(h.headline(second.status.ts)), 'the admin cancel');
      expect(h.headline(second.status.ts)).toMatch(/ada/i);
      h.service.release();
      expect(h.videoOf(first.jobId)).toBeUndefined();
      expect(h.videoOf(second.jobId)).toBeUndefined();
    });

    it('shows a failed render on the status message, with a "Try again" button, and posts no video', async () => {
      h.service.failTasksWith('the GPU ran out of memory');
      try {
        const file = h.slack.addFile(h.png, { name: 'cat.png' });
        const mention = h.slack.appMention({ text: `<@${h.slack.botUserId}> the cat melts`, files: [file] });
        await h.slack.deliver(h.target, 'events_api', mention);
        const jobId = `sl-m-${h.channel}-${String(mention.event.ts)}`;
        const status = await waitFor(() => h.statusOf(jobId), 'the status message');
        await waitFor(() => /^Failed: .*out of memory/.test(h.headline(status.ts)), 'the failure');
        const blocks = JSON.stringify(h.slack.message(h.channel, status.ts)!.blocks);
        expect(blocks).toContain('Try again (new seed)');
        expect(blocks).not.toContain('kinema_cancel');
        expect(h.videoOf(jobId)).toBeUndefined();
      } finally {
        h.service.failTasksWith(undefined);
      }
    });

    it('/animate help answers privately with every setting, from the schema', async () => {
      const answer = await h.slack.deliver(
        h.target,
        'slash_commands',
        h.slack.slashCommand({ text: 'help' }),
      );
      const body = answer.body as { response_type?: string; text?: string };
      expect(body.response_type).toBe('ephemeral');
      for (const field of FIELD_INFO.filter((f) => f.name !== 'prompt'))
        expect(body.text).toContain(`\`${field.name}\``);
    });

    extra?.(() => h);

    // Last: it leaves progress edits paused for the rest of this bot's life.
    it('a 429 on progress edits pauses only them: the uploads and final edits still happen', async () => {
      h.service.holdNewTasks(true);
      const start = async (prompt: string) => {
        const file = h.slack.addFile(h.png, { name: 'owl.png' });
        const mention = h.slack.appMention({ text: `<@${h.slack.botUserId}> ${prompt}`, files: [file] });
        await h.slack.deliver(h.target, 'events_api', mention);
        const jobId = `sl-m-${h.channel}-${String(mention.event.ts)}`;
        return { jobId, status: await waitFor(() => h.statusOf(jobId), 'the status message') };
      };
      const running = await start('the owl blinks');
      await waitFor(async () => (await h.pipeline.queue.state(running.jobId)) === 'active', 'a running job');
      const waiting = await start('the owl turns its head');
      await waitFor(() => /^Queued: #1 of 1/.test(h.headline(waiting.status.ts)), 'the waiting status');
      h.slack.rateLimit('chat.update', { times: 1, retryAfterSeconds: 600 });
      // A third job moves the waiting one to "#1 of 2": that progress edit meets the 429.
      const third = await start('the owl flies');
      await waitFor(() => h.slack.calls('chat.update').some((call) => call.status === 429), 'the 429');
      h.service.holdNewTasks(false);
      h.service.release();
      for (const { jobId, status } of [running, waiting, third]) {
        const video = await waitFor(() => h.videoOf(jobId), `the video of ${jobId}`);
        expect(h.slack.uploadedFile(video.files![0]!.id)!.equals(h.video)).toBe(true);
        await waitFor(() => h.headline(status.ts) === 'Done', `the status of ${jobId} to say Done`);
      }
    });
  });
}
