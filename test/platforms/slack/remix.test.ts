import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurationHistory } from '../../../src/backends/durations.js';
import { InferenceBackend } from '../../../src/backends/inference-sh/backend.js';
import { normaliseForChat } from '../../../src/media/video.js';
import { type FakeInference, startFakeInference } from '../../fakes/inference-sh/server.js';
import type { JsonObject } from '../../fakes/slack/index.js';
import { FAST as INFSH_FAST } from '../../support/inference-sh-harness.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';
import { FAST, type SlackHarness, startSlackHarness } from '../../support/slack-harness.js';

/** Remix and Details on a Slack result, through the real Bolt app, rendered by inference.sh's fake. */

const redis = testRedis();
let h: SlackHarness;
let fake: FakeInference;

beforeAll(async () => {
  h = await startSlackHarness('socket');
  fake = await startFakeInference({ video: h.video });
  await h.startBot();
  const backend = new InferenceBackend({
    apiUrl: fake.apiUrl,
    apiKey: fake.apiKey,
    durations: new DurationHistory(h.pipeline.connection, h.config.KINEMA_PREFIX),
    outputHosts: [fake.storageHost],
    ...INFSH_FAST,
  });
  h.worker = await h.pipeline.startWorker(backend, normaliseForChat, { ...FAST, concurrency: 2 });
});

afterAll(async () => {
  await h.worker?.close();
  await h.close(redis);
  await fake.close();
  await redis.quit();
});

const uploaded = (input: Record<string, unknown>) => {
  const text = JSON.stringify(input);
  return [...fake.uploads()].find(([id]) => text.includes(id))?.[1];
};

describe('Slack Remix and Details', () => {
  it('remixes with an edited prompt on the same image, once per double submit; Details shows the seed and settings', async () => {
    const file = h.slack.addFile(h.png, { name: 'fox.png' });
    const mention = h.slack.appMention({
      text: `<@${h.slack.botUserId}> a fox jumps model=wan2.2-a14b negative_prompt=blurry seed=4242 num_frames=49`,
      files: [file],
    });
    await h.slack.deliver(h.target, 'events_api', mention);
    const jobId = `sl-m-${h.channel}-${String(mention.event.ts)}`;
    const video = await waitFor(() => h.videoOf(jobId), 'the video');
    const actions = (video.blocks as JsonObject[]).find((b) => b.type === 'actions')!
      .elements as JsonObject[];
    expect(actions.map((e) => [e.action_id, (e.text as { text: string }).text])).toEqual([
      ['kinema_rerun', 'Rerun (new seed)'],
      ['kinema_extend', '⏩ Extend'],
      ['kinema_remix', 'Remix'],
      ['kinema_details', 'Details'],
    ]);
    const original = fake.runRequests().at(-1)!;

    // Details, for anyone, privately.
    const details = h.slack.blockAction({
      action_id: 'kinema_details',
      value: jobId,
      message_ts: video.ts,
      user_id: h.otherUserId,
    });
    await h.slack.deliver(h.target, 'interactive', details);
    const shown = await waitFor(
      () => h.slack.responseUrlPosts().find((p) => p.url === details.response_url),
      'the details',
    );
    const text = String((shown.body as { text: string; response_type: string }).text);
    expect((shown.body as { response_type: string }).response_type).toBe('ephemeral');
    expect(text).toContain('Seed: 4242');
    expect(text).toContain('Length: 49 frames (3.1 s at 16 fps)');
    expect(text).toContain('Size: 1280x720');
    expect(text).toContain('Steps: 40');
    expect(text).toContain("Guidance: the model's default");
    expect(text).toContain('Negative prompt: “blurry”');
    expect(text).toContain(
      '/animate a fox jumps negative_prompt=blurry model=wan2.2-a14b num_frames=49 seed=4242',
    );

    // Remix opens a modal pre-filled from the stored job.
    const click = h.slack.blockAction({ action_id: 'kinema_remix', value: jobId, message_ts: video.ts });
    await h.slack.deliver(h.target, 'interactive', click);
    const opened = await waitFor(
      () => h.slack.views().find((v) => v.trigger_id === click.trigger_id),
      'the remix modal',
    );
    const elements = Object.fromEntries(
      (opened.view.blocks as JsonObject[])
        .filter((b) => b.type === 'input')
        .map((b) => [b.block_id, b.element as JsonObject]),
    );
    expect(elements.prompt).toMatchObject({ initial_value: 'a fox jumps' });
    expect(elements.negative_prompt).toMatchObject({ initial_value: 'blurry' });
    expect(elements.model).toMatchObject({ initial_option: { value: 'wan2.2-a14b' } });
    expect(elements.size).toMatchObject({ initial_option: { value: '1280x720' } });
    expect(elements.num_frames).toMatchObject({ initial_value: '49' });
    expect(elements.seed).toMatchObject({ initial_value: '4242' });

    // A bad value stays in the form with the reason, nothing queued.
    const tasksBefore = fake.tasksCreated();
    const bad = await h.slack.deliver(
      h.target,
      'interactive',
      h.slack.viewSubmission({
        view_id: opened.view_id,
        values: { num_frames: { value: { type: 'number_input', value: '50' } } },
      }),
    );
    expect(bad.body).toMatchObject({
      response_action: 'errors',
      errors: { num_frames: expect.stringMatching(/4n\+1/) },
    });

    // The edited prompt, submitted twice: one job, one paid task.
    const submission = h.slack.viewSubmission({
      view_id: opened.view_id,
      values: {
        prompt: { value: h.slack.textInput('a fox lands softly') },
        seed: { value: { type: 'number_input', value: '-1' } },
      },
    });
    await Promise.all([
      h.slack.deliver(h.target, 'interactive', submission),
      h.slack.deliver(h.target, 'interactive', submission),
    ]);
    const remixId = `sl-${opened.view_id}`;
    const remixed = await waitFor(() => h.videoOf(remixId), 'the remix video');
    expect(JSON.stringify(remixed.blocks)).toContain(`Remix of \`${jobId}\``);
    expect(remixed.thread_ts).toBe(video.thread_ts);
    const jobs = await h.pipeline.queue.queue.getJobs(['completed', 'active', 'waiting', 'delayed']);
    expect(jobs.filter((j) => j.data.parentJobId === jobId)).toHaveLength(1);
    expect(fake.tasksCreated() - tasksBefore).toBe(1);
    const run = fake.runRequests().at(-1)!;
    expect(run.input).toMatchObject({
      prompt: 'a fox lands softly',
      negative_prompt: 'blurry',
      num_frames: 49,
    });
    expect(run.input.seed).not.toBe(4242);
    expect(uploaded(run.input)!.equals(uploaded(original.input)!)).toBe(true);
  });
});
