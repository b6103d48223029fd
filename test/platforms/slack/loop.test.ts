import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurationHistory } from '../../../src/backends/durations.js';
import { InferenceBackend } from '../../../src/backends/inference-sh/backend.js';
import { normaliseForChat } from '../../../src/media/video.js';
import { type FakeInference, startFakeInference } from '../../fakes/inference-sh/server.js';
import type { JsonObject } from '../../fakes/slack/index.js';
import { FAST as INFSH_FAST } from '../../support/inference-sh-harness.js';
import { makePng } from '../../support/media.js';
import { waitFor } from '../../support/processes.js';
import { testRedis } from '../../support/redis.js';
import { FAST, type SlackHarness, startSlackHarness } from '../../support/slack-harness.js';

/**
 * `loop` on Slack, through the real Bolt app, rendered by inference.sh's fake: a checkbox in the
 * form, `loop=true` in a mention; the start image goes as the end frame; a Remix form opens with
 * the box ticked and unticking it turns the loop off; refused, with nothing queued, on a model the
 * backend gives no end frame (made up here) and, inline in the form, together with an end frame.
 */

const redis = testRedis();
let h: SlackHarness;
let fake: FakeInference;

const uploadedAt = (uri: unknown) => {
  const id = String(uri).split('/files/')[1]?.split('/')[0];
  return id ? fake.uploads().get(id) : undefined;
};
const ticked = {
  type: 'checkboxes',
  selected_options: [{ text: { type: 'plain_text', text: 'Loop' }, value: 'true' }],
};

async function openModal(text: string) {
  const command = h.slack.slashCommand({ text });
  await h.slack.deliver(h.target, 'slash_commands', command);
  const opened = await waitFor(
    () => h.slack.views().find((view) => view.trigger_id === command.trigger_id),
    'the modal',
  );
  return { viewId: opened.view_id, view: opened.view };
}

const inputsOf = (view: JsonObject) =>
  Object.fromEntries(
    (view.blocks as JsonObject[])
      .filter((b) => b.type === 'input')
      .map((b) => [b.block_id, b.element as JsonObject]),
  );

beforeAll(async () => {
  h = await startSlackHarness(
    'socket',
    {},
    {
      // Made up: this backend gives Wan 2.2 5B no end frame (every shipped model takes one).
      api: {
        capabilities: { backend: 'inference.sh', endFrame: (m) => m !== 'wan2.2-5b', lora: () => false },
      },
    },
  );
  fake = await startFakeInference({ video: h.video, retiredAppsRun: true, stepDelayMs: 10 });
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

describe('loop on Slack', () => {
  it('the form’s Loop box sends the start image as the end frame; Remix opens ticked, and unticked it does not loop', async () => {
    const { viewId, view } = await openModal('');
    expect(inputsOf(view).loop).toMatchObject({ type: 'checkboxes', options: [{ value: 'true' }] });
    expect(inputsOf(view).loop).not.toHaveProperty('initial_options');
    await h.slack.deliver(
      h.target,
      'interactive',
      h.slack.viewSubmission({
        view_id: viewId,
        values: {
          image: { file: h.slack.fileInput([{ bytes: h.png, name: 'tide.png', mimetype: 'image/png' }]) },
          prompt: { value: h.slack.textInput('the tide turns') },
          loop: { value: ticked },
        },
      }),
    );
    const jobId = `sl-${viewId}`;
    const video = await waitFor(() => h.videoOf(jobId), 'the video');
    // Wan 2.1 (the default here): its app's first-last-frame field is `end_frame`.
    const run = fake.runRequests().at(-1)!;
    expect(run.app).toBe('infsh/wan2-1-i2v');
    const job = await h.pipeline.queue.queue.getJob(jobId);
    expect(job?.data.request.loop).toBe(true);
    const stored = await h.pipeline.inputs.read(job!.data.request.input_image);
    expect(uploadedAt(run.input.input_image)?.equals(stored)).toBe(true);
    expect(uploadedAt(run.input.end_frame)?.equals(stored)).toBe(true);

    // Remix: the box opens ticked; unticked, the new video has no end frame.
    const click = h.slack.blockAction({ action_id: 'kinema_remix', value: jobId, message_ts: video.ts });
    await h.slack.deliver(h.target, 'interactive', click);
    const opened = await waitFor(
      () => h.slack.views().find((v) => v.trigger_id === click.trigger_id),
      'the remix modal',
    );
    expect(inputsOf(opened.view).loop).toMatchObject({ initial_options: [{ value: 'true' }] });
    await h.slack.deliver(
      h.target,
      'interactive',
      h.slack.viewSubmission({
        view_id: opened.view_id,
        values: {
          prompt: { value: h.slack.textInput('the tide goes out') },
          loop: { value: { type: 'checkboxes', selected_options: [] } },
        },
      }),
    );
    const remixId = `sl-${opened.view_id}`;
    await waitFor(() => h.videoOf(remixId), 'the remix video');
    const remix = fake.runRequests().at(-1)!;
    expect(remix.input.prompt).toBe('the tide goes out');
    expect(remix.input).not.toHaveProperty('end_frame');
    expect((await h.pipeline.queue.queue.getJob(remixId))?.data.request).not.toHaveProperty('loop');
  });

  it('`loop=true` in a mention loops; on a model without end frames it is refused privately, nothing queued', async () => {
    const file = h.slack.addFile(h.png, { name: 'swing.png' });
    const mention = h.slack.appMention({
      text: `<@${h.slack.botUserId}> a swing sways model=wan2.2-a14b loop=true`,
      files: [file],
    });
    await h.slack.deliver(h.target, 'events_api', mention);
    const jobId = `sl-m-${h.channel}-${String(mention.event.ts)}`;
    await waitFor(() => h.videoOf(jobId), 'the video');
    const run = fake.runRequests().at(-1)!;
    expect(uploadedAt(run.input.end_image)?.equals(uploadedAt(run.input.image)!)).toBe(true);

    const before = fake.tasksCreated();
    const refusedFile = h.slack.addFile(h.png, { name: 'kite.png' });
    const refused = h.slack.appMention({
      text: `<@${h.slack.botUserId}> a kite loops model=wan2.2-5b loop=true`,
      files: [refusedFile],
    });
    await h.slack.deliver(h.target, 'events_api', refused);
    const told = await waitFor(
      () => h.slack.ephemerals(h.channel).find((e) => /which loop needs/.test(e.text)),
      'the private refusal',
    );
    expect(told.text).toBe(
      'Wan 2.2 TI2V 5B on inference.sh cannot take an end frame, which loop needs; nothing was queued. Leave it out, or pick another model.',
    );
    expect(told.user).toBe(h.userId);
    expect(
      await h.pipeline.queue.queue.getJob(`sl-m-${h.channel}-${String(refused.event.ts)}`),
    ).toBeUndefined();
    expect(fake.tasksCreated()).toBe(before);
  });

  it('Loop with an end frame stays in the form with the reason, nothing queued', async () => {
    const before = fake.tasksCreated();
    const { viewId } = await openModal('a door swings');
    const answer = await h.slack.deliver(
      h.target,
      'interactive',
      h.slack.viewSubmission({
        view_id: viewId,
        values: {
          image: { file: h.slack.fileInput([{ bytes: h.png, name: 'door.png', mimetype: 'image/png' }]) },
          end_frame: {
            file: h.slack.fileInput([
              { bytes: await makePng(64, 48), name: 'end.png', mimetype: 'image/png' },
            ]),
          },
          loop: { value: ticked },
        },
      }),
    );
    expect(answer.body).toMatchObject({
      response_action: 'errors',
      errors: { end_frame: expect.stringMatching(/^Loop ends the video on its start image/) },
    });
    expect(fake.tasksCreated()).toBe(before);
  });
});
